using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Safety;

/// <summary>Phased rollouts through the admin and device APIs: the plan's validation, the gates shown with
/// their figures, the failure gate halting a phase, manual advance and hold (audited, counted), and
/// <c>/explain</c> naming the device's phase. The full 10 → 50 → 100 % run with confirmed boots is driven
/// by the C simulator in <c>EndToEnd/SimulatedDeviceTests</c>.</summary>
[NonParallelizable]
public sealed class PhasedRolloutTests
{
    private const string Name = "v1.1.0-phased";
    private const string Writer = "test-writer";

    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private FleetData _fleet = null!;
    private HttpClient _admin = null!;
    private HttpClient _devices = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_phases", new Dictionary<string, string?>
        {
            ["Ota:Rollouts:Health:EvaluateSeconds"] = "0.1",
            ["Ota:Rollouts:Health:SweepSeconds"] = "0.3",
        });
        _fleet = new FleetData(_db);
        _admin = _factory.CreateAdminClient();
        _devices = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _admin.Dispose();
        _devices.Dispose();
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _factory.RefreshCatalog();
        await _fleet.AddReleaseAsync("esp32", "1.0.0");
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        _factory.RefreshCatalog();
    }

    [Test]
    public async Task A_bad_plan_is_refused_400_naming_each_phase_field_and_nothing_is_created()
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", Body(phases: new object[]
        {
            new { percentage = 10 },
            new { percentage = 50, max_failure_percent = 120 },
            new { percentage = 40, min_confirmed = -1, min_soak_seconds = "soon" },
            "not a phase",
        }));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem.ToString());
        Assert.That(response.Content.Headers.ContentType!.MediaType, Is.EqualTo("application/problem+json"));
        // the shapes first (a string for a number, a string for a phase); once they are right, the rules
        Assert.That(problem.GetProperty("errors").EnumerateObject().Select(e => e.Name),
            Is.EquivalentTo(new[] { "phases[2].min_soak_seconds", "phases[3]" }));

        response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", Body(phases: new object[]
        {
            new { percentage = 10 }, new { percentage = 50, max_failure_percent = 120 }, new { percentage = 40, min_confirmed = -1 },
        }));
        problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem.ToString());
        Assert.That(problem.GetProperty("errors").EnumerateObject().Select(e => e.Name),
            Is.EquivalentTo(new[] { "phases[1].max_failure_percent", "phases[2].min_confirmed", "phases[2].percentage" }));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("40 % is not above phase 2's 50 %"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_phased_rollout_that_is_sent_another_starting_percentage_is_refused_naming_rollout_percentage()
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", Body(percentage: 100, phases: new object[] { new { percentage = 10 }, new { percentage = 100 } }));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem.ToString());
        Assert.That(problem.GetProperty("errors").EnumerateObject().Select(e => e.Name), Is.EqualTo(new[] { "rollout_percentage" }));
    }

    [Test]
    public async Task The_rollout_shows_its_phase_the_gates_with_their_figures_and_what_they_decide()
    {
        await CreateAsync(new object[]
        {
            new { percentage = 10, min_confirmed = 3, max_failure_percent = 20, min_soak_seconds = 3600 },
            new { percentage = 100 },
        });

        var rollout = await RolloutAsync();

        var phase = rollout.GetProperty("phase");
        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(10));
        Assert.That((phase.GetProperty("current").GetInt32(), phase.GetProperty("count").GetInt32()), Is.EqualTo((1, 2)));
        Assert.That(phase.GetProperty("decision").GetString(), Is.EqualTo("hold"));
        var gates = phase.GetProperty("gates").EnumerateArray().ToDictionary(g => g.GetProperty("gate").GetString()!);
        Assert.That(gates["min_confirmed"].GetProperty("met").GetBoolean(), Is.False);
        Assert.That(gates["min_confirmed"].GetProperty("detail").GetString(), Is.EqualTo("0 confirmed boots of the 3 needed"));
        Assert.That(gates["max_failure_percent"].GetProperty("met").GetBoolean(), Is.True);
        Assert.That(gates["min_soak_seconds"].GetProperty("required").GetDecimal(), Is.EqualTo(3600m));
        var phases = rollout.GetProperty("phases").EnumerateArray().ToList();
        Assert.That(phases.Select(p => p.GetProperty("status").GetString()), Is.EqualTo(new[] { "current", "next" }));
        Assert.That(phases[0].GetProperty("min_confirmed").GetInt32(), Is.EqualTo(3));
    }

    [Test]
    public async Task A_phase_whose_failure_gate_fails_halts_the_rollout_with_the_phase_and_its_figures()
    {
        // the rollout's own threshold (100 %) can never halt it: only the phase's 20 % gate can
        await CreateAsync(
            new object[] { new { percentage = 50, min_confirmed = 10, max_failure_percent = 20 }, new { percentage = 100 } },
            threshold: new { percent = 100, minimum_attempts = 4 });
        var reached = Fleet(40).Where(d => PercentageBucket.Includes(Name, d, 50)).Take(4).ToList();
        foreach (var id in reached)
        {
            Assert.That(await OfferedAsync(id), Is.True, id);
            await ReportAsync(id, "downloading", 10);
        }

        await ReportAsync(reached[0], "failed", 0, "flash write failed");

        var rollout = await EventuallyAsync(r => r.GetProperty("state").GetString() == "halted");
        Assert.That(rollout.GetProperty("pause_reason").GetString(),
            Does.StartWith("halted in phase 1 of 2 (50 %): its failure gate failed: 1 of 4 attempts failed or rolled back (25 %)"));
        Assert.That(rollout.GetProperty("halt_details").GetProperty("phase").GetInt32(), Is.EqualTo(1));
        Assert.That(rollout.GetProperty("halt_details").GetProperty("max_failure_percent").GetDecimal(), Is.EqualTo(20m));
        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(50), "a halted phase does not advance");
        Assert.That(await OfferedAsync(reached[1]), Is.False);
        var halts = await AuditAsync("rollout.halt");
        Assert.That(halts.Single().GetProperty("actor").GetString(), Is.EqualTo("system"));
    }

    [Test]
    public async Task A_phase_advances_by_itself_once_its_devices_confirm_and_a_held_phase_waits_for_a_manual_advance()
    {
        using var recorder = new MeterRecorder(_factory.Services);
        await CreateAsync(new object[]
        {
            new { percentage = 10, min_confirmed = 1 },
            new { percentage = 50, min_confirmed = 2 },
            new { percentage = 100 },
        });
        var fleet = Fleet(200);
        var first = fleet.First(d => PercentageBucket.Includes(Name, d, 10));
        var second = fleet.Where(d => !PercentageBucket.Includes(Name, d, 10) && PercentageBucket.Includes(Name, d, 50)).Take(2).ToList();
        Assert.That(await OfferedAsync(second[0]), Is.False, "phase 2's devices wait for phase 1");

        await SucceedAsync(first);
        var advanced = await EventuallyAsync(r => r.GetProperty("phase").GetProperty("current").GetInt32() == 2);

        Assert.That(advanced.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(50));
        Assert.That(await OfferedAsync(second[0]), Is.True);
        var audit = (await AuditAsync("rollout.phase_advance")).Single();
        Assert.That(audit.GetProperty("actor").GetString(), Is.EqualTo("system"));
        Assert.That(audit.GetProperty("details").GetProperty("to_phase").GetInt32(), Is.EqualTo(2));
        Assert.That(audit.GetProperty("details").GetProperty("trigger").GetString(), Is.EqualTo("automatic"));

        // held: its gates pass, it stays
        var held = await _admin.PutAsync($"/api/admin/rollout/{Name}/hold", null);
        Assert.That(held.StatusCode, Is.EqualTo(HttpStatusCode.OK), await held.Content.ReadAsStringAsync());
        await SucceedAsync(second[0]);
        await SucceedAsync(second[1]);
        var waiting = await EventuallyAsync(r => r.GetProperty("phase").GetProperty("gates").EnumerateArray().All(g => g.GetProperty("met").GetBoolean()));
        await Task.Delay(TimeSpan.FromSeconds(1)); // three sweeps
        waiting = await RolloutAsync();
        Assert.That(waiting.GetProperty("phase").GetProperty("current").GetInt32(), Is.EqualTo(2));
        Assert.That(waiting.GetProperty("phase").GetProperty("held_by").GetString(), Is.EqualTo($"held by {Writer}"));
        Assert.That(waiting.GetProperty("phase").GetProperty("reason").GetString(), Does.Contain("is held"));

        var manual = await _admin.PostAsync($"/api/admin/rollout/{Name}/advance", null);
        var after = await manual.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(manual.StatusCode, Is.EqualTo(HttpStatusCode.OK), after.ToString());
        Assert.That(after.GetProperty("phase").GetProperty("current").GetInt32(), Is.EqualTo(3));
        Assert.That(after.GetProperty("phase").GetProperty("decision").GetString(), Is.EqualTo("final"));
        Assert.That(after.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(100));

        var last = await _admin.PostAsync($"/api/admin/rollout/{Name}/advance", null);
        Assert.That(last.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That((await last.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), Does.Contain("last phase"));

        var advances = await AuditAsync("rollout.phase_advance");
        Assert.That(advances.Select(a => (a.GetProperty("actor").GetString(), a.GetProperty("details").GetProperty("trigger").GetString())),
            Is.EqualTo(new[] { (Writer, "manual"), ("system", "automatic") }));
        Assert.That((await AuditAsync("rollout.advance")).Select(a => a.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "refused (409)", "succeeded" }));
        Assert.That((await AuditAsync("rollout.hold")).Single().GetProperty("outcome").GetString(), Is.EqualTo("succeeded"));
        Assert.That(recorder.Sum("ota.rollout.phase.advances", ("trigger", "automatic")), Is.EqualTo(1));
        Assert.That(recorder.Sum("ota.rollout.phase.advances", ("trigger", "manual")), Is.EqualTo(1));
        Assert.That(await _devices.GetStringAsync("/metrics"), Does.Contain("ota_rollout_phase_advances_total"));
    }

    [Test]
    public async Task A_read_key_may_not_advance_or_hold_and_the_refusals_are_audited()
    {
        // a gate no device meets, so that the health sweep (every 0.3 s here) cannot advance the phase itself
        await CreateAsync(new object[] { new { percentage = 10, min_confirmed = 1 }, new { percentage = 100 } });
        using var reader = _factory.CreateAdminClient(write: false);

        var advance = await reader.PostAsync($"/api/admin/rollout/{Name}/advance", null);
        var hold = await reader.PutAsync($"/api/admin/rollout/{Name}/hold", null);

        Assert.That((advance.StatusCode, hold.StatusCode), Is.EqualTo((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden)));
        var rollout = await RolloutAsync();
        Assert.That((rollout.GetProperty("phase").GetProperty("current").GetInt32(), rollout.GetProperty("phase").GetProperty("held_by").ValueKind),
            Is.EqualTo((1, JsonValueKind.Null)));
        Assert.That((await AuditAsync("rollout.advance")).Single().GetProperty("outcome").GetString(), Is.EqualTo("refused (403)"));
        Assert.That((await AuditAsync("rollout.hold")).Single().GetProperty("outcome").GetString(), Is.EqualTo("refused (403)"));
    }

    [Test]
    public async Task Explain_says_which_phase_reaches_the_device_and_why_it_is_not_offered_yet()
    {
        await CreateAsync(new object[] { new { percentage = 10, min_confirmed = 5 }, new { percentage = 60 }, new { percentage = 100 } });
        var later = Fleet(200).First(d => !PercentageBucket.Includes(Name, d, 10) && PercentageBucket.Includes(Name, d, 60));
        await OfferedAsync(later);

        var explain = await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/devices/{later}/explain");

        var verdict = explain.GetProperty("rollouts").EnumerateArray().Single();
        Assert.That(verdict.GetProperty("verdict").GetString(), Is.EqualTo("outside_percentage"));
        Assert.That(verdict.GetProperty("phase").GetProperty("current").GetInt32(), Is.EqualTo(1));
        Assert.That(verdict.GetProperty("phase").GetProperty("device_phase").GetInt32(), Is.EqualTo(2));
        Assert.That(verdict.GetProperty("phase").GetProperty("reached_now").GetBoolean(), Is.False);
        Assert.That(verdict.GetProperty("reason").GetString(),
            Does.Contain("phase 1 of 3 (10 %) runs: the device comes in at phase 2 (60 %), once the phases before it pass their gates"));
    }

    [Test]
    public async Task While_a_plan_runs_the_percentage_is_its_own_and_dropping_the_plan_gives_it_back()
    {
        // gates no device meets: the health sweep must not advance the phases while the test looks at them
        await CreateAsync(new object[] { new { percentage = 10, min_confirmed = 1 }, new { percentage = 100 } });

        var refused = await _admin.PatchAsJsonAsync($"/api/admin/rollout/{Name}", new { rollout_percentage = 30 });
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), problem.ToString());
        Assert.That(problem.GetProperty("errors").EnumerateObject().Single().Name, Is.EqualTo("rollout_percentage"));
        Assert.That((await RolloutAsync()).GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(10));

        var replanned = await _admin.PatchAsJsonAsync($"/api/admin/rollout/{Name}", new { phases = new object[] { new { percentage = 5 }, new { percentage = 25, min_confirmed = 1 }, new { percentage = 100 } } });
        var view = await replanned.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(replanned.StatusCode, Is.EqualTo(HttpStatusCode.OK), view.ToString());
        Assert.That((view.GetProperty("phase").GetProperty("current").GetInt32(), view.GetProperty("rollout_percentage").GetInt32()), Is.EqualTo((2, 25)),
            "the new plan enters the first phase that keeps the 10 % reached");

        var dropped = await _admin.PatchAsJsonAsync($"/api/admin/rollout/{Name}", new { phases = Array.Empty<object>(), rollout_percentage = 40 });
        view = await dropped.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(dropped.StatusCode, Is.EqualTo(HttpStatusCode.OK), view.ToString());
        Assert.That(view.GetProperty("phase").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(view.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(40));

        var noPlan = await _admin.PostAsync($"/api/admin/rollout/{Name}/advance", null);
        Assert.That(noPlan.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
    }

    private static object Body(int? percentage = null, object? phases = null, object? threshold = null) => new Dictionary<string, object?>
    {
        ["name"] = Name,
        ["firmware_version"] = "1.1.0",
        ["device_model"] = "esp32",
        ["target_type"] = "canary",
        ["is_active"] = true,
        ["rollout_percentage"] = percentage,
        ["phases"] = phases,
        ["failure_threshold"] = threshold,
    }.Where(p => p.Value is not null).ToDictionary();

    private static List<string> Fleet(int size) => [.. Enumerable.Range(0, size).Select(i => $"esp32_{i:D3}")];

    private async Task CreateAsync(object phases, object? threshold = null)
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", Body(phases: phases, threshold: threshold));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> RolloutAsync() => await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/rollout/{Name}");

    private async Task<List<JsonElement>> AuditAsync(string action) =>
        [.. (await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/audit?action={action}")).GetProperty("entries").EnumerateArray()];

    /// <summary>What the background passes decide (every 0.1 s and 0.3 s here), with a generous deadline.</summary>
    private async Task<JsonElement> EventuallyAsync(Func<JsonElement, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var rollout = await RolloutAsync();
            if (condition(rollout))
            {
                return rollout;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the rollout never got there: " + rollout);
            await Task.Delay(50);
        }
    }

    private async Task<bool> OfferedAsync(string id, string version = "1.0.0")
    {
        var response = await _devices.GetAsync($"/api/firmware/check?device_id={id}&device_model=esp32&current_version={version}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("update_available").GetBoolean();
    }

    private async Task ReportAsync(string id, string status, int progress, string? error = null)
    {
        var response = await _devices.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = "1.1.0", status, progress_percent = progress, error_message = error });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>Offered, downloads, installs and boots the new image: confirmed at its next check.</summary>
    private async Task SucceedAsync(string id)
    {
        Assert.That(await OfferedAsync(id), Is.True, $"{id} is offered the update");
        await ReportAsync(id, "downloading", 10);
        await ReportAsync(id, "success", 100);
        await OfferedAsync(id, "1.1.0");
    }
}

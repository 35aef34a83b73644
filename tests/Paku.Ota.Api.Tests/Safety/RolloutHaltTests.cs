using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Infrastructure.Metrics;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Safety;

/// <summary>The service notices a bad rollout: devices report failures over HTTP, the rollout halts
/// itself at its threshold, and the halt shows in the admin API, the audit log, the metrics and the
/// dashboard's SQL.</summary>
[NonParallelizable]
public sealed class RolloutHaltTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private FleetData _fleet = null!;
    private HttpClient _admin = null!;
    private HttpClient _devices = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_safety", new Dictionary<string, string?>
        {
            ["Ota:Rollouts:Health:EvaluateSeconds"] = "0.1",
            ["Ota:Rollouts:Health:SweepSeconds"] = "0.5",
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
    public async Task A_rollout_halts_itself_when_failures_pass_its_threshold_and_the_halt_shows_everywhere()
    {
        using var recorder = new MeterRecorder(_factory.Services);
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true });
        for (var i = 0; i < 20; i++)
        {
            Assert.That(await OfferedAsync(_devices, $"dev{i:D2}", "1.0.0"), Is.True);
            await ReportAsync(_devices, $"dev{i:D2}", "downloading", 10);
        }

        await ReportAsync(_devices, "dev00", "failed", 40, "flash write failed");
        var afterOne = await RolloutAsync("v1.1.0-all");
        await ReportAsync(_devices, "dev01", "failed", 40, "flash write failed");
        var afterTwo = await RolloutAsync("v1.1.0-all");

        // one failure in 20 is 5 %: not above the default threshold; the second makes 10 %
        Assert.That(afterOne.GetProperty("state").GetString(), Is.EqualTo("active"));
        Assert.That(afterTwo.GetProperty("state").GetString(), Is.EqualTo("halted"));
        Assert.That(afterTwo.GetProperty("pause_reason").GetString(), Does.Contain("2 of 20").And.Contain("10"));
        Assert.That(afterTwo.GetProperty("halt_details").GetProperty("failed").GetInt32(), Is.EqualTo(2));
        Assert.That(afterTwo.GetProperty("halt_details").GetProperty("attempts").GetInt32(), Is.EqualTo(20));
        Assert.That(afterTwo.GetProperty("progress").GetProperty("failure_rate_percent").GetDecimal(), Is.EqualTo(10m));

        Assert.That(await OfferedAsync(_devices, "dev99", "1.0.0"), Is.False, "a halted rollout is no longer offered");

        var audit = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=rollout.halt");
        var halts = audit.GetProperty("entries").EnumerateArray().ToList();
        Assert.That(halts, Has.Count.EqualTo(1));
        Assert.That(halts[0].GetProperty("actor").GetString(), Is.EqualTo("system"));
        Assert.That(halts[0].GetProperty("target").GetString(), Is.EqualTo("v1.1.0-all"));

        await _factory.Services.GetRequiredService<FleetGauges>().RefreshAsync(CancellationToken.None);
        Assert.That(recorder.Sum("ota.rollout.halts"), Is.EqualTo(1));
        Assert.That(recorder.Sum("ota.status.reports", ("status", "failed")), Is.EqualTo(2));
        Assert.That(recorder.Gauge("ota.rollout.failure.ratio", ("rollout", "v1.1.0-all")), Is.EqualTo(0.1).Within(1e-9));
        Assert.That(recorder.Gauge("ota.rollouts", ("state", "halted")), Is.EqualTo(1));
        Assert.That(recorder.Gauge("ota.rollouts", ("state", "active")), Is.Zero);
        var metrics = await _devices.GetStringAsync("/metrics");
        Assert.That(metrics, Does.Contain("ota_rollout_halts_total"));
        Assert.That(metrics, Does.Match("ota_rollouts\\{[^}]*state=\"halted\"[^}]*\\} 1\\b"));
        Assert.That(metrics, Does.Match("ota_rollout_failure_ratio\\{[^}]*rollout=\"v1.1.0-all\"[^}]*\\} 0.1\\b"));

        var panel = await DashboardRowAsync("Rollout progress", "v1.1.0-all");
        Assert.That(panel["state"], Is.EqualTo("halted"));
        Assert.That(panel["failed"], Is.EqualTo(2L));
        Assert.That(panel["failure_rate_percent"], Is.EqualTo(10.0m));
    }

    [Test]
    public async Task Six_early_failures_then_24_successes_halt_a_30_device_canary_once_20_have_attempted()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-canary", firmware_version = "1.1.0", device_model = "esp32", target_type = "canary", rollout_percentage = 100, is_active = true });
        var devices = Enumerable.Range(0, 30).Select(i => $"dev{i:D2}").ToList();
        foreach (var id in devices)
        {
            Assert.That(await OfferedAsync(_devices, id, "1.0.0"), Is.True);
        }

        foreach (var id in devices.Take(6))
        {
            await ReportAsync(_devices, id, "downloading", 10);
            await ReportAsync(_devices, id, "failed", 30, "flash write failed");
        }

        Assert.That((await RolloutAsync("v1.1.0-canary")).GetProperty("state").GetString(), Is.EqualTo("active"), "6 attempts are too few to judge");
        foreach (var id in devices.Skip(6))
        {
            await SucceedAsync(id);
        }

        var rollout = await EventuallyHaltedAsync("v1.1.0-canary");
        var details = rollout.GetProperty("halt_details");
        Assert.That(details.GetProperty("failed").GetInt32(), Is.EqualTo(6));
        Assert.That(details.GetProperty("attempts").GetInt32(), Is.InRange(20, 30));
        Assert.That(rollout.GetProperty("pause_reason").GetString(), Does.StartWith("halted: 6 of "));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from audit_log where action = 'rollout.halt'"), Is.EqualTo(1));
    }

    [Test]
    public async Task Two_early_failures_then_18_successes_halt_the_rollout_at_10_percent()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-canary", firmware_version = "1.1.0", device_model = "esp32", target_type = "canary", rollout_percentage = 100, is_active = true });
        var devices = Enumerable.Range(0, 20).Select(i => $"dev{i:D2}").ToList();
        foreach (var id in devices)
        {
            Assert.That(await OfferedAsync(_devices, id, "1.0.0"), Is.True);
        }

        foreach (var id in devices.Take(2))
        {
            await ReportAsync(_devices, id, "failed", 0, "no space");
        }

        foreach (var id in devices.Skip(2))
        {
            await SucceedAsync(id);
        }

        var rollout = await EventuallyHaltedAsync("v1.1.0-canary");
        Assert.That(rollout.GetProperty("pause_reason").GetString(), Is.EqualTo("halted: 2 of 20 attempts failed or rolled back (10 %), above the 5 % threshold"));
        Assert.That(rollout.GetProperty("progress").GetProperty("confirmed").GetInt32(), Is.EqualTo(18));
        Assert.That(await OfferedAsync(_devices, "late", "1.0.0"), Is.False, "a halted rollout is no longer offered");
    }

    [Test]
    public async Task The_sweep_halts_a_rollout_whose_failures_no_event_judged()
    {
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 10, minimum_attempts = 4 },
        });
        for (var i = 0; i < 4; i++)
        {
            await OfferedAsync(_devices, $"dev{i}", "1.0.0");
        }

        // as a replica that stopped between its commit and its judgement would leave them
        await _fleet.ScalarAsync<int>("""
            update rollout_devices set status = case when device_id = 'dev0' then 'failed' else 'downloading' end, updated_at = now()
            returning 1
            """);

        var rollout = await EventuallyHaltedAsync("v1.1.0-all");
        Assert.That(rollout.GetProperty("halt_details").GetProperty("triggered_by").GetString(), Is.EqualTo("sweep"));
    }

    [Test]
    public async Task A_device_that_comes_back_on_its_old_version_counts_as_a_failure()
    {
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-canary", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 10, minimum_attempts = 5 },
        });
        for (var i = 0; i < 5; i++)
        {
            await OfferedAsync(_devices, $"dev{i}", "1.0.0");
            await ReportAsync(_devices, $"dev{i}", "success", 100);
        }

        await OfferedAsync(_devices, "dev0", "1.1.0");       // booted the new image: confirmed
        await OfferedAsync(_devices, "dev1", "1.0.0");       // came back on the old one: rolled back (1 of 5 = 20 %)

        var rollout = await RolloutAsync("v1.1.0-canary");
        Assert.That(rollout.GetProperty("progress").GetProperty("confirmed").GetInt32(), Is.EqualTo(1));
        Assert.That(rollout.GetProperty("progress").GetProperty("rolled_back").GetInt32(), Is.EqualTo(1));
        Assert.That(rollout.GetProperty("progress").GetProperty("reported_success").GetInt32(), Is.EqualTo(3));
        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("halted"));
    }

    [Test]
    public async Task Two_replicas_reporting_failures_at_once_halt_the_rollout_once()
    {
        await using var second = new ApiFactory(_db.ConnectionString);
        using var secondDevices = second.CreateClient();
        using var firstMeters = new MeterRecorder(_factory.Services);
        using var secondMeters = new MeterRecorder(second.Services);
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true });
        second.RefreshCatalog();
        for (var i = 0; i < 20; i++)
        {
            await OfferedAsync(_devices, $"dev{i:D2}", "1.0.0");
            await ReportAsync(_devices, $"dev{i:D2}", "downloading", 10);
        }

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            ReportAsync(i % 2 == 0 ? _devices : secondDevices, $"dev{i:D2}", "failed", 50, "boom")));

        var halts = await _fleet.ScalarAsync<long>("select count(*) from audit_log where action = 'rollout.halt'");
        Assert.That(halts, Is.EqualTo(1));
        Assert.That(firstMeters.Sum("ota.rollout.halts") + secondMeters.Sum("ota.rollout.halts"), Is.EqualTo(1));
        Assert.That((await RolloutAsync("v1.1.0-all")).GetProperty("state").GetString(), Is.EqualTo("halted"));
    }

    [Test]
    public async Task An_admin_can_resume_a_halted_rollout_and_the_resume_is_audited()
    {
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 5, minimum_attempts = 1 },
        });
        await OfferedAsync(_devices, "dev0", "1.0.0");
        await ReportAsync(_devices, "dev0", "failed", 0, "no space");
        Assert.That((await RolloutAsync("v1.1.0-all")).GetProperty("state").GetString(), Is.EqualTo("halted"));

        var resume = await _admin.PatchAsJsonAsync("/api/admin/rollout/v1.1.0-all", new { is_active = true });

        Assert.That(resume.StatusCode, Is.EqualTo(HttpStatusCode.OK), await resume.Content.ReadAsStringAsync());
        Assert.That((await RolloutAsync("v1.1.0-all")).GetProperty("state").GetString(), Is.EqualTo("active"));
        Assert.That(await OfferedAsync(_devices, "dev1", "1.0.0"), Is.True);
        var audit = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=rollout.change");
        var created = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=rollout.create");
        Assert.That(audit.GetProperty("entries")[0].GetProperty("actor").GetString(), Is.EqualTo("test-writer"));
        Assert.That(audit.GetProperty("entries")[0].GetProperty("target").GetString(), Is.EqualTo("v1.1.0-all"));
        Assert.That(created.GetProperty("entries")[0].GetProperty("target").GetString(), Is.EqualTo("v1.1.0-all"), "named from the created rollout");
    }

    [Test]
    public async Task A_rollback_rollout_sends_the_affected_devices_the_previous_release()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true });
        foreach (var id in new[] { "hit1", "hit2" })
        {
            await OfferedAsync(_devices, id, "1.0.0");
            await ReportAsync(_devices, id, "success", 100);
            await OfferedAsync(_devices, id, "1.1.0");
        }

        await _admin.PatchAsJsonAsync("/api/admin/rollout/v1.1.0-all", new { is_active = false });
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-rollback", firmware_version = "1.0.0", device_model = "esp32", target_type = "specific",
            target_filter = new { device_ids = new[] { "hit1", "hit2" } }, allow_downgrade = true, is_active = true,
        });

        var answer = await CheckAsync(_devices, "hit1", "1.1.0");
        Assert.That(answer.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(answer.GetProperty("is_rollback").GetBoolean(), Is.True);
        Assert.That(await OfferedAsync(_devices, "bystander", "1.1.0"), Is.False);
    }

    [Test]
    public async Task A_device_sent_back_by_a_rollback_is_not_offered_the_bad_release_again_while_the_original_stays_active()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true });
        await OfferedAsync(_devices, "hit1", "1.0.0");
        await ReportAsync(_devices, "hit1", "success", 100);
        await OfferedAsync(_devices, "hit1", "1.1.0");
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-back", firmware_version = "1.0.0", device_model = "esp32", target_type = "specific",
            target_filter = new { device_ids = new[] { "hit1" } }, allow_downgrade = true, is_active = true,
        });

        var back = await CheckAsync(_devices, "hit1", "1.1.0");
        Assert.That(back.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        var afterwards = await CheckAsync(_devices, "hit1", "1.0.0");
        var explained = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/devices/hit1/explain");

        Assert.That(afterwards.GetProperty("update_available").GetBoolean(), Is.False, afterwards.ToString());
        Assert.That(await OfferedAsync(_devices, "bystander", "1.0.0"), Is.True, "the original still reaches the devices the rollback does not target");
        var original = explained.GetProperty("rollouts").EnumerateArray().Single(r => r.GetProperty("rollout").GetString() == "v1.1.0-all");
        Assert.That(original.GetProperty("verdict").GetString(), Is.EqualTo("held_by_rollback"));
        Assert.That(original.GetProperty("held_by").GetString(), Is.EqualTo("v1.1.0-back"));
        Assert.That(original.GetProperty("reason").GetString(), Does.Contain("rollback rollout v1.1.0-back targets the device"));
        Assert.That(explained.GetProperty("summary").GetString(), Does.Contain("rollback rollout v1.1.0-back"));
    }

    [Test]
    public async Task One_audited_action_rolls_a_halted_rollout_back_to_the_previous_release_for_the_devices_that_took_it()
    {
        await _fleet.AddReleaseAsync("esp32", "1.2.0");
        await _fleet.AddReleaseAsync("esp32", "1.1.1");
        await _fleet.ScalarAsync<int>("update firmware_releases set withdrawn_at = now() where version = '1.1.1' returning 1");
        _factory.RefreshCatalog();
        await CreateRolloutAsync(new
        {
            name = "v1.2.0-all", firmware_version = "1.2.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 20, minimum_attempts = 4 },
        });
        foreach (var id in new[] { "took1", "took2", "failed1", "failed2", "idle" })
        {
            await CheckAsync(_devices, id, "1.1.0");
        }

        await ReportVersionAsync("took1", "1.2.0", "success");
        await CheckAsync(_devices, "took1", "1.2.0");
        await ReportVersionAsync("took2", "1.2.0", "installing");
        await ReportVersionAsync("failed1", "1.2.0", "failed");
        await ReportVersionAsync("failed2", "1.2.0", "failed");
        Assert.That((await RolloutAsync("v1.2.0-all")).GetProperty("state").GetString(), Is.EqualTo("halted"));

        var response = await _admin.PostAsync("/api/admin/rollout/v1.2.0-all/rollback", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That(response.Headers.Location?.ToString(), Is.EqualTo("/api/admin/rollout/v1.2.0-all-rollback"));
        var rollback = await RolloutAsync("v1.2.0-all-rollback");
        Assert.That(rollback.GetProperty("firmware_version").GetString(), Is.EqualTo("1.1.0"), "the newest release below 1.2.0 that is not withdrawn");
        Assert.That(rollback.GetProperty("allow_downgrade").GetBoolean(), Is.True);
        Assert.That(rollback.GetProperty("target_type").GetString(), Is.EqualTo("specific"));
        Assert.That(rollback.GetProperty("target_filter").GetProperty("device_ids").EnumerateArray().Select(e => e.GetString()),
            Is.EqualTo(new[] { "took1", "took2" }));
        Assert.That(rollback.GetProperty("created_by").GetString(), Is.EqualTo("test-writer"));
        var took1 = await CheckAsync(_devices, "took1", "1.2.0");
        Assert.That(took1.GetProperty("latest_version").GetString(), Is.EqualTo("1.1.0"));
        Assert.That(took1.GetProperty("is_rollback").GetBoolean(), Is.True);
        var audit = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=rollout.rollback");
        Assert.That(audit.GetProperty("entries").GetArrayLength(), Is.EqualTo(1));
        Assert.That(audit.GetProperty("entries")[0].GetProperty("actor").GetString(), Is.EqualTo("test-writer"));
        Assert.That(audit.GetProperty("entries")[0].GetProperty("outcome").GetString(), Is.EqualTo("succeeded"));
    }

    [Test]
    public async Task Rolling_back_a_rollout_that_is_not_halted_is_refused_and_creates_nothing()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true });

        var active = await _admin.PostAsync("/api/admin/rollout/v1.1.0-all/rollback", null);
        var missing = await _admin.PostAsync("/api/admin/rollout/nope/rollback", null);

        Assert.That(active.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(active.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await active.Content.ReadAsStringAsync(), Does.Contain("is active, not halted"));
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollouts"), Is.EqualTo(1));
    }

    [Test]
    public async Task Rolling_back_without_an_earlier_release_is_refused()
    {
        await CreateRolloutAsync(new
        {
            name = "v1.0.0-all", firmware_version = "1.0.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 5, minimum_attempts = 1 },
        });
        await CheckAsync(_devices, "dev0", "0.9.0");
        await ReportVersionAsync("dev0", "1.0.0", "failed");

        var response = await _admin.PostAsync("/api/admin/rollout/v1.0.0-all/rollback", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("nothing to roll back to"));
    }

    [Test]
    public async Task A_device_silent_past_its_deadline_times_out_as_a_failure_and_a_later_confirmation_is_counted_once()
    {
        await CreateRolloutAsync(new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100, is_active = true,
            failure_threshold = new { percent = 40, minimum_attempts = 2 },
            attempt_deadline = new { downloading_minutes = 5 },
        });
        foreach (var id in new[] { "stuck", "slow" })
        {
            await OfferedAsync(_devices, id, "1.0.0");
            await ReportAsync(_devices, id, "downloading", 30);
        }

        // "stuck" was last heard of 6 minutes ago, "slow" 4 minutes ago (as the clock would have it)
        await _fleet.ScalarAsync<int>("""
            update devices set update_changed_at = now() - case device_id when 'stuck' then interval '6 minutes' else interval '4 minutes' end;
            update rollout_devices set updated_at = now() - case device_id when 'stuck' then interval '6 minutes' else interval '4 minutes' end;
            select 1
            """);

        var halted = await EventuallyHaltedAsync("v1.1.0-all");
        var history = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/update-status?device_id=stuck&status=timed_out");
        Assert.That(halted.GetProperty("progress").GetProperty("timed_out").GetInt32(), Is.EqualTo(1));
        Assert.That(halted.GetProperty("progress").GetProperty("downloading").GetInt32(), Is.EqualTo(1), "4 minutes are within the 5 allowed");
        Assert.That(halted.GetProperty("pause_reason").GetString(), Is.EqualTo("halted: 1 of 2 attempts failed, rolled back or timed out (50 %), above the 40 % threshold"));
        Assert.That(halted.GetProperty("attempt_deadline").GetProperty("downloading_minutes").GetInt32(), Is.EqualTo(5));
        Assert.That(halted.GetProperty("attempt_deadline").GetProperty("installing_minutes").GetInt32(), Is.EqualTo(60), "the default where none was given");
        var entries = history.GetProperty("updates").EnumerateArray().ToList();
        Assert.That(entries, Has.Count.EqualTo(1), history.ToString());
        Assert.That(entries[0].GetProperty("error_message").GetString(), Does.Contain("no word from the device for 6 min while downloading 1.1.0"));

        await CheckAsync(_devices, "stuck", "1.1.0"); // it was only silent: it booted 1.1.0

        var progress = (await RolloutAsync("v1.1.0-all")).GetProperty("progress");
        Assert.That(progress.GetProperty("timed_out").GetInt32(), Is.Zero);
        Assert.That(progress.GetProperty("confirmed").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("attempts").GetInt32(), Is.EqualTo(2), "no second attempt");
        Assert.That(progress.GetProperty("failure_rate_percent").GetDecimal(), Is.Zero);
    }

    [Test]
    public async Task An_attempt_deadline_outside_a_minute_to_30_days_is_refused_naming_the_field_and_nothing_is_created()
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100,
            attempt_deadline = new { installing_minutes = 0 },
        });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("attempt_deadline.installing_minutes"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollouts"), Is.Zero);
    }

    [Test]
    public async Task A_patch_changes_only_the_deadlines_it_names()
    {
        await CreateRolloutAsync(new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100 });

        var response = await _admin.PatchAsJsonAsync("/api/admin/rollout/v1.1.0-all", new { attempt_deadline = new { success_minutes = 30 } });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var deadline = (await RolloutAsync("v1.1.0-all")).GetProperty("attempt_deadline");
        Assert.That(deadline.GetProperty("downloading_minutes").GetInt32(), Is.EqualTo(360));
        Assert.That(deadline.GetProperty("installing_minutes").GetInt32(), Is.EqualTo(60));
        Assert.That(deadline.GetProperty("success_minutes").GetInt32(), Is.EqualTo(30));
    }

    private async Task ReportVersionAsync(string id, string version, string status)
    {
        var response = await _devices.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = version, status, progress_percent = status == "failed" ? 0 : 100 });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>Downloads, installs and boots the new image: confirmed at its next check.</summary>
    private async Task SucceedAsync(string id)
    {
        await ReportAsync(_devices, id, "downloading", 10);
        await ReportAsync(_devices, id, "success", 100);
        await CheckAsync(_devices, id, "1.1.0");
    }

    /// <summary>A halt that no failure triggered comes from the background pass (every 0.1 s here).</summary>
    private async Task<JsonElement> EventuallyHaltedAsync(string name)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var rollout = await RolloutAsync(name);
            if (rollout.GetProperty("state").GetString() == "halted" || DateTime.UtcNow > deadline)
            {
                Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("halted"), rollout.ToString());
                return rollout;
            }

            await Task.Delay(50);
        }
    }

    private async Task CreateRolloutAsync(object body)
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private async Task<JsonElement> RolloutAsync(string name) => await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/rollout/{name}");

    private static async Task<JsonElement> CheckAsync(HttpClient client, string id, string version)
    {
        var response = await client.GetAsync($"/api/firmware/check?device_id={id}&device_model=esp32&current_version={version}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<bool> OfferedAsync(HttpClient client, string id, string version) =>
        (await CheckAsync(client, id, version)).GetProperty("update_available").GetBoolean();

    private static async Task ReportAsync(HttpClient client, string id, string status, int progress, string? error = null)
    {
        var response = await client.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = "1.1.0", status, progress_percent = progress, error_message = error });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    private async Task<IDictionary<string, object>> DashboardRowAsync(string panelTitle, string rollout)
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paku.Ota.sln")))
        {
            dir = dir.Parent;
        }

        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir!.FullName, "deploy", "grafana", "dashboards", "ota.json")));
        var sql = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .Single(p => p.GetProperty("title").GetString() == panelTitle)
            .GetProperty("targets")[0].GetProperty("rawSql").GetString()!;
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var rows = (await connection.QueryAsync(sql)).Cast<IDictionary<string, object>>().ToList();
        return rows.Single(r => (string)r["rollout"] == rollout);
    }
}

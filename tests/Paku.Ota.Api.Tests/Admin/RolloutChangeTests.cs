using System.Net;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>PATCH /api/admin/rollout/{name}: percentage, pause and resume, filter, threshold, and what
/// devices see on their very next check.</summary>
[NonParallelizable]
public sealed class RolloutChangeTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_rollout_changes");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0");
    }

    private async Task CreateAsync(string body)
    {
        using var client = _factory.CreateAdminClient();
        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private Task CreateCanaryAsync(int percentage = 10) => CreateAsync($$"""
        {"name": "v1.2.0-canary", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "canary", "rollout_percentage": {{percentage}}}
        """);

    private async Task<HttpResponseMessage> PatchAsync(string name, string body, bool write = true)
    {
        using var client = _factory.CreateAdminClient(write);
        return await client.SendJsonAsync(HttpMethod.Patch, $"/api/admin/rollout/{name}", body);
    }

    private Task<long> StoredAsync(string column) =>
        AdminFixtures.CountAsync(_db, $"select {column}::bigint from rollouts where name = 'v1.2.0-canary'");

    [Test]
    public async Task Canary_raised_from_10_to_25_is_seen_by_the_very_next_check_and_keeps_every_device_of_the_10()
    {
        await CreateCanaryAsync(10);
        using var device = _factory.CreateClient();
        var fleet = Enumerable.Range(0, 400).Select(i => $"esp32_{i:D4}").ToList();

        var at10 = new HashSet<string>();
        foreach (var id in fleet)
        {
            if ((await device.CheckAsync(id, "esp32", "1.0.0")).GetProperty("update_available").GetBoolean())
            {
                at10.Add(id);
            }
        }

        var patched = await PatchAsync("v1.2.0-canary", """{"rollout_percentage": 25}""");
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var at25 = new HashSet<string>();
        foreach (var id in fleet)
        {
            if ((await device.CheckAsync(id, "esp32", "1.0.0")).GetProperty("update_available").GetBoolean())
            {
                at25.Add(id);
            }
        }

        Assert.That(at10, Is.Not.Empty);
        Assert.That(at10, Is.SubsetOf(at25), "every device of the 10 % stays in");
        Assert.That(at25.Count, Is.GreaterThan(at10.Count));
        Assert.That(at25, Is.EquivalentTo(fleet.Where(id => PercentageBucket.Includes("v1.2.0-canary", id, 25))), "no check saw the old 10 %");
    }

    [Test]
    public async Task Lowering_the_percentage_is_stored_and_takes_devices_out()
    {
        await CreateCanaryAsync(50);

        var response = await PatchAsync("v1.2.0-canary", """{"rollout_percentage": 0}""");
        var rollout = await response.JsonAsync();
        var check = await _factory.CreateClient().CheckAsync("esp32_001", "esp32", "1.0.0");

        Assert.That(rollout.GetProperty("rollout_percentage").GetInt32(), Is.Zero);
        Assert.That(await StoredAsync("rollout_percentage"), Is.Zero);
        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Pausing_names_the_key_and_stops_offers_at_once()
    {
        await CreateCanaryAsync(100);

        var response = await PatchAsync("v1.2.0-canary", """{"is_active": false}""");
        var rollout = await response.JsonAsync();
        var check = await _factory.CreateClient().CheckAsync("esp32_001", "esp32", "1.0.0");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("paused"));
        Assert.That(rollout.GetProperty("pause_reason").GetString(), Is.EqualTo("paused by test-writer"));
        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Resuming_a_paused_rollout_offers_again()
    {
        await CreateCanaryAsync(100);
        await PatchAsync("v1.2.0-canary", """{"is_active": false}""");

        var rollout = await (await PatchAsync("v1.2.0-canary", """{"is_active": true}""")).JsonAsync();
        var check = await _factory.CreateClient().CheckAsync("esp32_001", "esp32", "1.0.0");

        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("active"));
        Assert.That(rollout.GetProperty("pause_reason").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.True);
    }

    private Task HaltInDatabaseAsync() => AdminFixtures.ExecuteAsync(_db, """
        update rollouts
           set is_active = false, pause_reason = 'halted: 3 of 20 attempts failed or rolled back (15 %), above the 5 % threshold',
               halted_at = now(), halt_details = '{"attempts": 20, "failed": 3}'
         where name = 'v1.2.0-canary'
        """);

    [Test]
    public async Task A_halted_rollout_shows_its_halt_and_stays_halted_when_paused()
    {
        await CreateCanaryAsync(100);
        await HaltInDatabaseAsync();
        _factory.RefreshCatalog();
        using var reader = _factory.CreateAdminClient(write: false);

        var halted = await (await reader.GetAsync("/api/admin/rollout/v1.2.0-canary")).JsonAsync();
        var paused = await (await PatchAsync("v1.2.0-canary", """{"is_active": false}""")).JsonAsync();

        Assert.That(halted.GetProperty("state").GetString(), Is.EqualTo("halted"));
        Assert.That(halted.GetProperty("halted_at").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.String));
        Assert.That(halted.GetProperty("halt_details").GetProperty("failed").GetInt32(), Is.EqualTo(3));
        Assert.That(halted.GetProperty("pause_reason").GetString(), Does.StartWith("halted: 3 of 20"));
        Assert.That(paused.GetProperty("state").GetString(), Is.EqualTo("halted"), "an operator's pause does not hide the halt");
        Assert.That(paused.GetProperty("pause_reason").GetString(), Does.StartWith("halted: 3 of 20"));
    }

    [Test]
    public async Task Resuming_a_halted_rollout_clears_the_halt_so_the_threshold_can_halt_it_again()
    {
        await CreateCanaryAsync(100);
        await HaltInDatabaseAsync();

        var rollout = await (await PatchAsync("v1.2.0-canary", """{"is_active": true}""")).JsonAsync();
        var check = await _factory.CreateClient().CheckAsync("esp32_001", "esp32", "1.0.0");

        Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("active"));
        Assert.That(rollout.GetProperty("halted_at").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts where halted_at is null and halt_details is null and is_active"), Is.EqualTo(1));
        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.True);
    }

    [Test]
    public async Task The_filter_of_a_group_rollout_can_be_replaced()
    {
        await CreateAsync("""
            {"name": "warehouse", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "group", "target_filter": {"groups": ["location:warehouse"]}}
            """);
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_010", groups: "location:office");

        var rollout = await (await PatchAsync("warehouse", """{"target_filter": {"groups": ["location:office", "location:lab"]}}""")).JsonAsync();
        var check = await _factory.CreateClient().CheckAsync("esp32_010", "esp32", "1.0.0");

        Assert.That(rollout.GetProperty("target_filter").GetProperty("groups").Strings(), Is.EqualTo(new[] { "location:lab", "location:office" }));
        Assert.That(check.GetProperty("rollout").GetString(), Is.EqualTo("warehouse"));
    }

    [Test]
    public async Task A_filter_that_does_not_fit_the_stored_target_type_is_refused()
    {
        await CreateCanaryAsync(10);

        var response = await PatchAsync("v1.2.0-canary", """{"target_filter": {"groups": ["g"]}, "rollout_percentage": 50}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "target_filter.groups");
        Assert.That(await StoredAsync("rollout_percentage"), Is.EqualTo(10), "nothing of the change was written");
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts where target_filter = '{}'::jsonb"), Is.EqualTo(1));
    }

    [Test]
    public async Task Part_of_the_failure_threshold_can_be_changed()
    {
        await CreateCanaryAsync(10);

        var rollout = await (await PatchAsync("v1.2.0-canary", """{"failure_threshold": {"percent": 12.5}}""")).JsonAsync();

        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("percent").GetDecimal(), Is.EqualTo(12.5m));
        Assert.That(rollout.GetProperty("failure_threshold").GetProperty("minimum_attempts").GetInt32(), Is.EqualTo(20));
    }

    [Test]
    public async Task An_unknown_rollout_is_404()
    {
        var response = await PatchAsync("no-such-rollout", """{"rollout_percentage": 50}""");

        await response.AssertProblemAsync(HttpStatusCode.NotFound);
    }

    private static IEnumerable<TestCaseData> BadPatches()
    {
        TestCaseData Case(string body, string field, string why) => new TestCaseData(body, field).SetName($"Patch_refuses {why}");

        yield return Case("{}", "body", "an empty change");
        yield return Case("""{"rollout_percentage": 101}""", "rollout_percentage", "101 percent");
        yield return Case("""{"rollout_percentage": -1}""", "rollout_percentage", "minus 1 percent");
        yield return Case("""{"rollout_percentage": "25"}""", "rollout_percentage", "a percentage as a string");
        yield return Case("""{"rollout_percentage": null}""", "rollout_percentage", "a null percentage");
        yield return Case("""{"is_active": "false"}""", "is_active", "is_active as a string");
        yield return Case("""{"name": "renamed"}""", "name", "a rename");
        yield return Case("""{"allow_downgrade": true}""", "allow_downgrade", "a field that cannot change");
        yield return Case("""{"target_type": "all"}""", "target_type", "a new target type");
        yield return Case("""{"rollout_percentage": 50, "colour": "red"}""", "colour", "an unknown field next to a good one");
        yield return Case("""{"target_filter": {"device_ids": ["a"]}}""", "target_filter.device_ids", "device ids on a canary");
        yield return Case("""{"failure_threshold": {}}""", "failure_threshold", "an empty threshold");
        yield return Case("""{"failure_threshold": {"percent": 0}}""", "failure_threshold.percent", "a zero threshold");
        yield return Case("""{"failure_threshold": {"minimum_attempts": 2.5}}""", "failure_threshold.minimum_attempts", "fractional attempts");
        yield return Case("""{"rollout_percentage": 50""", "body", "malformed JSON");
        yield return Case("""[50]""", "body", "an array");
    }

    [TestCaseSource(nameof(BadPatches))]
    public async Task Patch_refuses_bad_input_naming_the_field_and_changes_nothing(string body, string field)
    {
        await CreateCanaryAsync(10);
        var before = await AdminFixtures.CountAsync(_db, "select extract(epoch from updated_at)::bigint * 1000000 + extract(microseconds from updated_at)::bigint from rollouts");

        var response = await PatchAsync("v1.2.0-canary", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.That(await StoredAsync("rollout_percentage"), Is.EqualTo(10));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select extract(epoch from updated_at)::bigint * 1000000 + extract(microseconds from updated_at)::bigint from rollouts"), Is.EqualTo(before));
    }

    [Test]
    public async Task Changing_needs_write_scope_and_every_attempt_is_audited()
    {
        await CreateCanaryAsync(10);

        var withReadKey = await PatchAsync("v1.2.0-canary", """{"is_active": false}""", write: false);
        var withWriteKey = await PatchAsync("v1.2.0-canary", """{"is_active": false}""");
        using var anonymous = _factory.CreateClient();
        var withoutKey = await anonymous.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/v1.2.0-canary", """{"is_active": true}""");
        using var reader = _factory.CreateAdminClient(write: false);
        var audit = await (await reader.GetAsync("/api/admin/audit?action=rollout.change")).JsonAsync();

        await withReadKey.AssertProblemAsync(HttpStatusCode.Forbidden);
        await withoutKey.AssertProblemAsync(HttpStatusCode.Unauthorized);
        Assert.That(withWriteKey.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var entries = audit.GetProperty("entries").EnumerateArray()
            .Select(e => (e.GetProperty("actor").GetString(), e.GetProperty("target").GetString(), e.GetProperty("outcome").GetString())).ToList();
        Assert.That(entries, Is.EqualTo(new[]
        {
            ("unauthenticated", "v1.2.0-canary", "refused (401)"),
            ("test-writer", "v1.2.0-canary", "succeeded"),
            ("test-reader", "v1.2.0-canary", "refused (403)"),
        }), "every attempt, newest first, with the key that made it when there was one");
    }

    [Test]
    public async Task A_change_moves_the_catalog_generation_so_other_replicas_reload()
    {
        await CreateCanaryAsync(10);
        var before = await AdminFixtures.CountAsync(_db, "select generation from catalog_generation");

        await PatchAsync("v1.2.0-canary", """{"rollout_percentage": 20}""");

        Assert.That(await AdminFixtures.CountAsync(_db, "select generation from catalog_generation"), Is.GreaterThan(before));
    }

    [Test]
    public async Task A_change_made_through_another_replica_reaches_this_one_within_seconds()
    {
        await CreateCanaryAsync(100);
        using var device = _factory.CreateClient();
        Assert.That((await device.CheckAsync("esp32_001", "esp32", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True);

        // Another replica pauses the rollout: this instance's cache is not told, only the generation moves.
        await using var other = new ApiFactory(_db.ConnectionString, AdminFixtures.Settings);
        using var otherAdmin = other.CreateAdminClient();
        var paused = await otherAdmin.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/v1.2.0-canary", """{"is_active": false}""");
        Assert.That(paused.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        bool offered;
        do
        {
            await Task.Delay(250);
            offered = (await device.CheckAsync("esp32_001", "esp32", "1.0.0")).GetProperty("update_available").GetBoolean();
        }
        while (offered && DateTime.UtcNow < deadline);

        Assert.That(offered, Is.False, "the refresher polls the catalog generation every 2 s");
    }
}

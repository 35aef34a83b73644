using System.Net;
using System.Text.Json;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>GET /api/admin/devices/{id}/explain: the seed's "device not receiving updates" checklist in one
/// call, computed by the same selection as the device check, so the two never disagree.</summary>
[NonParallelizable]
public sealed class ExplainTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_explain");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    /// <summary>A fleet where every rule of the selection decides for some device.</summary>
    [SetUp]
    public async Task Reset()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "0.9.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0", minVersion: "1.1.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.5.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "2.0.0-rc.1");
        await AdminFixtures.InsertReleaseAsync(_db, "esp8266", "3.0.0");

        using var admin = _factory.CreateAdminClient();
        foreach (var body in new[]
        {
            """{"name": "pilot", "firmware_version": "1.1.0", "device_model": "esp32", "target_type": "specific", "target_filter": {"device_ids": ["esp32_pilot", "esp32_old"]}}""",
            """{"name": "warehouse", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "group", "target_filter": {"groups": ["location:warehouse"]}}""",
            """{"name": "canary-30", "firmware_version": "1.1.0", "device_model": "esp32", "target_type": "canary", "rollout_percentage": 30}""",
            """{"name": "rc", "firmware_version": "2.0.0-rc.1", "device_model": "esp32", "target_type": "all", "is_active": false}""",
            """{"name": "lab-rollback", "firmware_version": "0.9.0", "device_model": "esp32", "target_type": "group", "target_filter": {"groups": ["env:lab"]}, "allow_downgrade": true}""",
            """{"name": "pulled", "firmware_version": "1.5.0", "device_model": "esp32", "target_type": "all"}""",
            """{"name": "esp8266-all", "firmware_version": "3.0.0", "device_model": "esp8266", "target_type": "all"}""",
        })
        {
            var response = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        }

        await AdminFixtures.ExecuteAsync(_db, "update firmware_releases set withdrawn_at = now(), withdrawn_reason = 'boot loop' where version = '1.5.0'");
        _factory.RefreshCatalog();

        foreach (var (id, model, version, groups) in Fleet)
        {
            await AdminFixtures.InsertDeviceAsync(_db, id, model, version, groups);
        }
    }

    private static readonly (string Id, string Model, string Version, string[] Groups)[] Fleet =
    [
        ("esp32_pilot", "esp32", "1.0.0", []),
        ("esp32_old", "esp32", "0.5.0", []),
        ("esp32_wh_new", "esp32", "1.1.0", ["location:warehouse"]),
        ("esp32_wh_old", "esp32", "1.0.0", ["location:warehouse", "function:sensor"]),
        ("esp32_lab", "esp32", "1.2.0", ["env:lab"]),
        ("esp32_latest", "esp32", "2.0.0", []),
        ("esp32_on_canary", "esp32", "1.1.0", []),
        ("esp8266_old", "esp8266", "2.0.0", []),
        ("esp8266_new", "esp8266", "3.0.0", []),
        .. Enumerable.Range(0, 30).Select(i => ($"esp32_fleet_{i:D2}", "esp32", "1.0.0", i % 5 == 0 ? new[] { "function:sensor" } : [])),
    ];

    private async Task<JsonElement> ExplainAsync(string id)
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var response = await reader.GetAsync($"/api/admin/devices/{id}/explain");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.JsonAsync();
    }

    private static JsonElement Verdict(JsonElement explanation, string rollout) =>
        explanation.GetProperty("rollouts").EnumerateArray().Single(r => r.GetProperty("rollout").GetString() == rollout);

    [Test]
    public async Task For_every_device_the_explained_offer_is_what_the_next_check_offers()
    {
        using var device = _factory.CreateClient();
        var offered = 0;
        foreach (var (id, model, version, _) in Fleet)
        {
            var explanation = await ExplainAsync(id);
            var check = await device.CheckAsync(id, model, version);

            var wouldOffer = explanation.GetProperty("would_offer");
            if (wouldOffer.ValueKind == JsonValueKind.Null)
            {
                Assert.That(check.GetProperty("update_available").GetBoolean(), Is.False, $"{id}: explain offers nothing, the check offers {check}");
                continue;
            }

            offered++;
            Assert.That(check.GetProperty("update_available").GetBoolean(), Is.True, $"{id}: explain offers {wouldOffer}, the check nothing");
            Assert.That(check.GetProperty("rollout").GetString(), Is.EqualTo(wouldOffer.GetProperty("rollout").GetString()), id);
            Assert.That(check.GetProperty("latest_version").GetString(), Is.EqualTo(wouldOffer.GetProperty("version").GetString()), id);
        }

        Assert.That(offered, Is.InRange(5, Fleet.Length - 5), "the fleet is built so that both outcomes occur");
    }

    [TestCase("esp32_pilot", "pilot", "1.1.0")]
    [TestCase("esp32_old", "pilot", "1.1.0")]
    [TestCase("esp32_wh_new", "warehouse", "1.2.0")]
    [TestCase("esp32_lab", "lab-rollback", "0.9.0")]
    [TestCase("esp8266_old", "esp8266-all", "3.0.0")]
    public async Task The_offer_follows_the_documented_rules(string id, string rollout, string version)
    {
        var explanation = await ExplainAsync(id);

        Assert.That(explanation.GetProperty("would_offer").GetProperty("rollout").GetString(), Is.EqualTo(rollout));
        Assert.That(explanation.GetProperty("would_offer").GetProperty("version").GetString(), Is.EqualTo(version));
        Assert.That(explanation.GetProperty("summary").GetString(), Is.EqualTo($"rollout {rollout} offers {version}"));
    }

    [Test]
    public async Task Every_rollout_of_the_model_is_listed_with_its_verdict_and_only_those()
    {
        var explanation = await ExplainAsync("esp32_wh_old");

        Assert.That(explanation.GetProperty("rollouts").EnumerateArray().Select(r => r.GetProperty("rollout").GetString()),
            Is.EqualTo(new[] { "canary-30", "lab-rollback", "pilot", "pulled", "rc", "warehouse" }));
        Assert.That(explanation.GetProperty("device").GetProperty("groups").Strings(), Is.EqualTo(new[] { "location:warehouse", "function:sensor" }));
        Assert.That(explanation.GetProperty("catalog_generation").GetInt64(), Is.GreaterThan(0));

        var pilot = Verdict(explanation, "pilot");
        Assert.That(pilot.GetProperty("verdict").GetString(), Is.EqualTo("not_listed"));
        Assert.That(pilot.GetProperty("targets_device").GetBoolean(), Is.False);
        Assert.That(pilot.GetProperty("reason").GetString(), Is.EqualTo("rollout pilot targets specific devices and does not list esp32_wh_old"));

        var warehouse = Verdict(explanation, "warehouse");
        Assert.That(warehouse.GetProperty("verdict").GetString(), Is.EqualTo("below_min_version"));
        Assert.That(warehouse.GetProperty("targets_device").GetBoolean(), Is.True);
        Assert.That(warehouse.GetProperty("reason").GetString(), Does.Contain("needs at least 1.1.0; the device runs 1.0.0"));

        var lab = Verdict(explanation, "lab-rollback");
        Assert.That(lab.GetProperty("verdict").GetString(), Is.EqualTo("not_in_group"));
        Assert.That(lab.GetProperty("reason").GetString(), Does.Contain("targets groups env:lab"));

        var rc = Verdict(explanation, "rc");
        Assert.That(rc.GetProperty("verdict").GetString(), Is.EqualTo("inactive"));
        Assert.That(rc.GetProperty("state").GetString(), Is.EqualTo("paused"));
        Assert.That(rc.GetProperty("pause_reason").GetString(), Is.EqualTo("created paused by test-writer"));
        Assert.That(rc.GetProperty("reason").GetString(), Is.EqualTo("rollout rc is paused: created paused by test-writer"));

        var pulled = Verdict(explanation, "pulled");
        Assert.That(pulled.GetProperty("verdict").GetString(), Is.EqualTo("release_withdrawn"));
    }

    [Test]
    public async Task A_device_outside_the_canary_is_told_its_bucket()
    {
        var outside = Fleet.Select(d => d.Id).First(id => id.StartsWith("esp32_fleet_", StringComparison.Ordinal) && !PercentageBucket.Includes("canary-30", id, 30));

        var canary = Verdict(await ExplainAsync(outside), "canary-30");

        Assert.That(canary.GetProperty("verdict").GetString(), Is.EqualTo("outside_percentage"));
        Assert.That(canary.GetProperty("bucket").GetInt32(), Is.EqualTo(PercentageBucket.Of("canary-30", outside)));
        Assert.That(canary.GetProperty("reason").GetString(), Does.Contain("reaches 30 % of devices (buckets below 3000)"));
    }

    [Test]
    public async Task Newer_devices_are_told_the_versions_are_not_newer()
    {
        var explanation = await ExplainAsync("esp32_latest");

        Assert.That(explanation.GetProperty("would_offer").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(explanation.GetProperty("summary").GetString(), Does.StartWith("no update"));
        Assert.That(Verdict(explanation, "canary-30").GetProperty("verdict").GetString(), Is.AnyOf("not_newer", "outside_percentage"));
        Assert.That(Verdict(explanation, "pilot").GetProperty("verdict").GetString(), Is.EqualTo("not_listed"));
    }

    [Test]
    public async Task A_losing_rollout_names_the_winner_and_why()
    {
        var inCanary = Fleet.Select(d => d.Id).First(id => id.StartsWith("esp32_fleet_", StringComparison.Ordinal) && PercentageBucket.Includes("canary-30", id, 30));
        using var admin = _factory.CreateAdminClient();
        var patched = await admin.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/pilot",
            JsonSerializer.Serialize(new { target_filter = new { device_ids = new[] { "esp32_pilot", "esp32_old", inCanary } } }));
        Assert.That(patched.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var explanation = await ExplainAsync(inCanary);
        var canary = Verdict(explanation, "canary-30");

        Assert.That(explanation.GetProperty("would_offer").GetProperty("rollout").GetString(), Is.EqualTo("pilot"));
        Assert.That(canary.GetProperty("verdict").GetString(), Is.EqualTo("outranked"));
        Assert.That(canary.GetProperty("targets_device").GetBoolean(), Is.True);
        Assert.That(canary.GetProperty("outranked_by").GetString(), Is.EqualTo("pilot"));
        Assert.That(canary.GetProperty("reason").GetString(),
            Is.EqualTo("rollout canary-30 would offer 1.1.0, but rollout pilot wins: its specific targeting is more specific than canary"));
    }

    [Test]
    public async Task A_halted_rollout_is_explained_as_halted_with_its_reason()
    {
        await AdminFixtures.ExecuteAsync(_db, """
            update rollouts set is_active = false, halted_at = now(), pause_reason = 'halted: too many failures'
             where name = 'warehouse'
            """);
        _factory.RefreshCatalog();

        var warehouse = Verdict(await ExplainAsync("esp32_wh_new"), "warehouse");

        Assert.That(warehouse.GetProperty("state").GetString(), Is.EqualTo("halted"));
        Assert.That(warehouse.GetProperty("verdict").GetString(), Is.EqualTo("inactive"));
        Assert.That(warehouse.GetProperty("reason").GetString(), Is.EqualTo("rollout warehouse is halted: halted: too many failures"));
    }

    [Test]
    public async Task Explain_follows_a_patch_at_once()
    {
        using var admin = _factory.CreateAdminClient();
        await admin.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/pilot", """{"is_active": false}""");

        var explanation = await ExplainAsync("esp32_pilot");

        Assert.That(Verdict(explanation, "pilot").GetProperty("reason").GetString(), Is.EqualTo("rollout pilot is paused: paused by test-writer"));
    }

    [Test]
    public async Task An_unknown_device_is_404_a_bad_id_400_and_no_key_401()
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var unknown = await (await reader.GetAsync("/api/admin/devices/esp32_nobody/explain")).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await reader.GetAsync("/api/admin/devices/bad%20id/explain")).AssertProblemAsync(HttpStatusCode.BadRequest, "device_id");
        await (await _factory.CreateClient().GetAsync("/api/admin/devices/esp32_pilot/explain")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        Assert.That(unknown.GetProperty("detail").GetString(), Does.Contain("never checked in"));
    }
}

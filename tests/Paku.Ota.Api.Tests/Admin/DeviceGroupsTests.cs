using System.Net;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>PUT /api/admin/devices/{id}/groups and the bulk PUT /api/admin/devices/groups: stored where
/// the seed's SQL keeps them, used by group rollouts at the next check, all or nothing.</summary>
[NonParallelizable]
public sealed class DeviceGroupsTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_device_groups");

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
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_002", groups: "location:office");
        await AdminFixtures.ExecuteAsync(_db, """update devices set metadata = '{"site": "north"}' where device_id = 'esp32_001'""");
    }

    private async Task<HttpResponseMessage> PutAsync(string url, string body, bool write = true)
    {
        using var client = _factory.CreateAdminClient(write);
        return await client.SendJsonAsync(HttpMethod.Put, url, body);
    }

    private async Task<string> MetadataAsync(string id)
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<string>("select metadata::text from devices where device_id = @id", new { id }) ?? "";
    }

    [Test]
    public async Task Groups_are_stored_where_the_seeds_sql_finds_them_and_other_metadata_is_kept()
    {
        var response = await PutAsync("/api/admin/devices/esp32_001/groups", """{"groups": ["location:warehouse", "function:sensor", "env:production"]}""");
        var device = await response.JsonAsync();

        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var found = (await connection.QueryAsync<string>("""
            -- Query devices by group
            SELECT device_id
            FROM devices
            WHERE metadata->'groups' ? 'location:warehouse';
            """)).ToList();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(device.GetProperty("groups").Strings(), Is.EqualTo(new[] { "location:warehouse", "function:sensor", "env:production" }));
        Assert.That(found, Is.EqualTo(new[] { "esp32_001" }));
        Assert.That(await MetadataAsync("esp32_001"), Does.Contain("\"site\": \"north\""));
    }

    [Test]
    public async Task Duplicates_collapse_and_an_empty_list_removes_every_group()
    {
        var deduplicated = await (await PutAsync("/api/admin/devices/esp32_002/groups", """{"groups": ["a", "b", "a"]}""")).JsonAsync();
        var emptied = await (await PutAsync("/api/admin/devices/esp32_002/groups", """{"groups": []}""")).JsonAsync();

        Assert.That(deduplicated.GetProperty("groups").Strings(), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(emptied.GetProperty("groups").Strings(), Is.Empty);
    }

    [Test]
    public async Task A_group_rollout_reaches_a_device_at_its_next_check_after_its_groups_are_set()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0");
        using var admin = _factory.CreateAdminClient();
        await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", """
            {"name": "warehouse", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "group", "target_filter": {"groups": ["location:warehouse"]}}
            """);
        using var device = _factory.CreateClient();
        var before = await device.CheckAsync("esp32_001", "esp32", "1.0.0");

        await PutAsync("/api/admin/devices/esp32_001/groups", """{"groups": ["location:warehouse"]}""");
        var after = await device.CheckAsync("esp32_001", "esp32", "1.0.0");

        Assert.That(before.GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That(after.GetProperty("rollout").GetString(), Is.EqualTo("warehouse"));
    }

    [Test]
    public async Task Groups_of_an_unknown_device_are_404_and_nothing_is_created()
    {
        var response = await PutAsync("/api/admin/devices/esp32_999/groups", """{"groups": ["a"]}""");

        await response.AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from devices"), Is.EqualTo(2));
    }

    private static IEnumerable<TestCaseData> BadGroupBodies()
    {
        TestCaseData Case(string body, string field, string why) => new TestCaseData(body, field).SetName($"Groups_refuse {why}");

        yield return Case("{}", "groups", "a missing list");
        yield return Case("""{"groups": null}""", "groups", "a null list");
        yield return Case("""{"groups": "location:warehouse"}""", "groups", "a string instead of a list");
        yield return Case("""{"groups": ["ok", 5]}""", "groups", "a number in the list");
        yield return Case("""{"groups": ["has space"]}""", "groups", "a group with a space");
        yield return Case("""{"groups": [""]}""", "groups", "an empty group name");
        yield return Case("""{"groups": ["ünïcode"]}""", "groups", "non-ascii letters");
        yield return Case($$"""{"groups": ["{{new string('g', 65)}}"]}""", "groups", "a 65 character group");
        yield return Case(JsonSerializer.Serialize(new { groups = Enumerable.Range(0, 33).Select(i => $"g{i}") }), "groups", "33 groups");
        yield return Case("""{"groups": ["a"], "tags": ["b"]}""", "tags", "an unknown field");
        yield return Case("""{"groups": ["a"]""", "body", "malformed JSON");
        yield return Case("""["a"]""", "body", "a bare array");
    }

    [TestCaseSource(nameof(BadGroupBodies))]
    public async Task Groups_refuse_bad_input_naming_the_field_and_change_nothing(string body, string field)
    {
        var before = await MetadataAsync("esp32_002");

        var response = await PutAsync("/api/admin/devices/esp32_002/groups", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.That(await MetadataAsync("esp32_002"), Is.EqualTo(before));
    }

    [Test]
    public async Task A_bad_device_id_in_the_path_is_400()
    {
        var response = await PutAsync("/api/admin/devices/bad%20id/groups", """{"groups": ["a"]}""");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "device_id");
    }

    [Test]
    public async Task Many_devices_get_their_groups_in_one_request()
    {
        var response = await PutAsync("/api/admin/devices/groups", """
            {"devices": {"esp32_001": ["location:warehouse", "function:sensor"], "esp32_002": []}}
            """);
        var result = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), result.ToString());
        Assert.That(result.GetProperty("updated").GetInt32(), Is.EqualTo(2));
        Assert.That(await MetadataAsync("esp32_001"), Does.Contain("\"groups\": [\"location:warehouse\", \"function:sensor\"]").And.Contain("north"));
        Assert.That(await MetadataAsync("esp32_002"), Is.EqualTo("""{"groups": []}"""));
    }

    [Test]
    public async Task Ten_thousand_devices_are_assigned_at_once()
    {
        await AdminFixtures.ExecuteAsync(_db, """
            insert into devices (device_id, device_model, current_firmware_version)
            select 'fleet_' || lpad(i::text, 5, '0'), 'esp32', '1.0.0' from generate_series(1, 10000) i
            """);
        var body = JsonSerializer.Serialize(new
        {
            devices = Enumerable.Range(1, 10_000).ToDictionary(i => $"fleet_{i:D5}", i => new[] { "env:production", $"rack:{i % 40}" }),
        });

        var response = await PutAsync("/api/admin/devices/groups", body);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(await AdminFixtures.CountAsync(_db, """select count(*) from devices where metadata->'groups' ? 'env:production'"""), Is.EqualTo(10_000));
    }

    [Test]
    public async Task More_than_ten_thousand_devices_are_refused()
    {
        var body = JsonSerializer.Serialize(new { devices = Enumerable.Range(0, 10_001).ToDictionary(i => $"d{i}", _ => Array.Empty<string>()) });

        var response = await PutAsync("/api/admin/devices/groups", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, "devices");
    }

    private static IEnumerable<TestCaseData> BadBulkBodies()
    {
        TestCaseData Case(string body, HttpStatusCode status, string field, string why) =>
            new TestCaseData(body, status, field).SetName($"Bulk_groups_refuse {why}");

        yield return Case("""{"devices": {"esp32_001": ["a"], "esp32_404": ["a"]}}""", HttpStatusCode.NotFound, "devices", "one unknown device");
        yield return Case("""{"devices": {"esp32_001": ["a"], "esp32_002": ["bad group"]}}""", HttpStatusCode.BadRequest, "devices.esp32_002", "one bad group");
        yield return Case("""{"devices": {"esp32_001": ["a"], "bad id": ["a"]}}""", HttpStatusCode.BadRequest, "devices.bad id", "a bad device id");
        yield return Case("""{"devices": {"esp32_001": ["a"], "esp32_002": "a"}}""", HttpStatusCode.BadRequest, "devices.esp32_002", "groups that are a string");
        yield return Case("""{"devices": {"esp32_001": ["a"], "esp32_001": ["b"]}}""", HttpStatusCode.BadRequest, "devices.esp32_001", "a repeated device");
        yield return Case("""{"devices": {}}""", HttpStatusCode.BadRequest, "devices", "no devices");
        yield return Case("""{"devices": ["esp32_001"]}""", HttpStatusCode.BadRequest, "devices", "a list instead of a map");
        yield return Case("""{"esp32_001": ["a"]}""", HttpStatusCode.BadRequest, "esp32_001", "a map without the devices field");
        yield return Case("""{"devices": {"esp32_001": ["a"]""", HttpStatusCode.BadRequest, "body", "malformed JSON");
    }

    [TestCaseSource(nameof(BadBulkBodies))]
    public async Task Bulk_groups_refuse_bad_input_and_change_no_device(string body, HttpStatusCode status, string field)
    {
        var before = (await MetadataAsync("esp32_001"), await MetadataAsync("esp32_002"));

        var response = await PutAsync("/api/admin/devices/groups", body);

        await response.AssertProblemAsync(status, field);
        Assert.That((await MetadataAsync("esp32_001"), await MetadataAsync("esp32_002")), Is.EqualTo(before));
    }

    [Test]
    public async Task An_unknown_device_is_named_in_the_answer()
    {
        var response = await PutAsync("/api/admin/devices/groups", """{"devices": {"esp32_001": ["a"], "esp32_404": ["a"]}}""");
        var problem = await response.AssertProblemAsync(HttpStatusCode.NotFound, "devices");

        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("esp32_404").And.Contain("No device was changed"));
    }

    [Test]
    public async Task An_oversized_bulk_body_is_413()
    {
        var body = "{\"devices\": {\"esp32_001\": [\"" + new string('a', 17 * 1024 * 1024) + "\"]}}";

        var response = await PutAsync("/api/admin/devices/groups", body);

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Test]
    public async Task Setting_groups_needs_write_scope_and_every_attempt_is_audited()
    {
        var withReadKey = await PutAsync("/api/admin/devices/esp32_001/groups", """{"groups": ["a"]}""", write: false);
        var single = await PutAsync("/api/admin/devices/esp32_001/groups", """{"groups": ["a"]}""");
        var bulk = await PutAsync("/api/admin/devices/groups", """{"devices": {"esp32_002": ["b"]}}""");
        using var reader = _factory.CreateAdminClient(write: false);
        var audit = await (await reader.GetAsync("/api/admin/audit")).JsonAsync();
        var actions = audit.GetProperty("entries").EnumerateArray()
            .Select(e => (e.GetProperty("action").GetString(), e.GetProperty("target").GetString(), e.GetProperty("outcome").GetString())).ToList();

        await withReadKey.AssertProblemAsync(HttpStatusCode.Forbidden);
        Assert.That(single.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(bulk.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(actions, Is.EqualTo(new[]
        {
            ("device.groups.set_many", (string?)null, "succeeded"),
            ("device.groups.set", "esp32_001", "succeeded"),
            ("device.groups.set", "esp32_001", "refused (403)"),
        }));
    }
}

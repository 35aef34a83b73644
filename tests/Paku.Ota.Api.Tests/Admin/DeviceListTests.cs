using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>GET /api/admin/devices and /devices/{id}: the seed's device list (and its jq lookup), filters,
/// paging, and one device with its update state and history.</summary>
[NonParallelizable]
public sealed class DeviceListTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_devices");

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
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001", "esp32", "1.0.0", "location:warehouse", "function:sensor");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_002", "esp32", "1.2.0", "location:office");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_003", "esp32", "1.0.0+build.9");
        await AdminFixtures.InsertDeviceAsync(_db, "esp8266_001", "esp8266", "2.0.0", "location:warehouse");
    }

    private async Task<JsonElement> GetAsync(string url)
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var response = await reader.GetAsync(url);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.JsonAsync();
    }

    private static IReadOnlyList<string> Ids(JsonElement page) =>
        [.. page.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("device_id").GetString()!)];

    [Test]
    public async Task The_seeds_jq_lookup_finds_the_device()
    {
        var page = await GetAsync("/api/admin/devices?limit=1000");

        // jq '.devices[] | select(.device_id=="esp32_001")'
        var device = page.GetProperty("devices").EnumerateArray().Single(d => d.GetProperty("device_id").GetString() == "esp32_001");

        Assert.That(page.GetProperty("total").GetInt64(), Is.EqualTo(4));
        Assert.That(device.GetProperty("device_model").GetString(), Is.EqualTo("esp32"));
        Assert.That(device.GetProperty("current_firmware_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(device.GetProperty("groups").Strings(), Is.EqualTo(new[] { "location:warehouse", "function:sensor" }));
        Assert.That(device.GetProperty("first_seen").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(device.GetProperty("last_seen").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(device.GetProperty("update").ValueKind, Is.EqualTo(JsonValueKind.Null));
    }

    [TestCase("device_model=esp32", new[] { "esp32_001", "esp32_002", "esp32_003" })]
    [TestCase("group=location:warehouse", new[] { "esp32_001", "esp8266_001" })]
    [TestCase("group=location:warehouse&device_model=esp8266", new[] { "esp8266_001" })]
    [TestCase("version=1.0.0", new[] { "esp32_001", "esp32_003" })]
    [TestCase("version=v1.0.0", new[] { "esp32_001", "esp32_003" })]
    [TestCase("version=1.2.0&device_model=esp32", new[] { "esp32_002" })]
    [TestCase("group=nobody", new string[0])]
    [TestCase("search=ESP8266", new[] { "esp8266_001" })]
    [TestCase("search=_00&device_model=esp32", new[] { "esp32_001", "esp32_002", "esp32_003" })]
    [TestCase("search=%25", new string[0])]
    [TestCase("status=failing", new[] { "esp32_002" })]
    [TestCase("status=downloading", new[] { "esp32_001" })]
    [TestCase("status=none", new[] { "esp32_003", "esp8266_001" })]
    public async Task Filters_narrow_the_list_and_the_total(string query, string[] expected)
    {
        await AdminFixtures.ExecuteAsync(_db, """
            update devices set update_status = 'downloading', update_target_version = '1.1.0', update_progress = 5 where device_id = 'esp32_001';
            update devices set update_status = 'rolled_back', update_target_version = '1.3.0', update_progress = 100 where device_id = 'esp32_002';
            """);
        var page = await GetAsync($"/api/admin/devices?{query}");

        Assert.That(Ids(page), Is.EqualTo(expected));
        Assert.That(page.GetProperty("total").GetInt64(), Is.EqualTo(expected.Length));
    }

    [Test]
    public async Task An_unknown_status_filter_is_refused_naming_the_field()
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var response = await reader.GetAsync("/api/admin/devices?status=broken");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("status must be one of downloading"));
    }

    [Test]
    public async Task Pages_are_ordered_by_id_and_the_total_counts_every_match()
    {
        var first = await GetAsync("/api/admin/devices?limit=2");
        var second = await GetAsync("/api/admin/devices?limit=2&offset=2");
        var beyond = await GetAsync("/api/admin/devices?limit=2&offset=10");

        Assert.That(Ids(first), Is.EqualTo(new[] { "esp32_001", "esp32_002" }));
        Assert.That(Ids(second), Is.EqualTo(new[] { "esp32_003", "esp8266_001" }));
        Assert.That(Ids(beyond), Is.Empty);
        Assert.That(beyond.GetProperty("total").GetInt64(), Is.EqualTo(4));
    }

    [Test]
    public async Task The_default_page_is_100_devices()
    {
        await AdminFixtures.ExecuteAsync(_db, """
            insert into devices (device_id, device_model, current_firmware_version)
            select 'bulk_' || lpad(i::text, 4, '0'), 'esp32', '1.0.0' from generate_series(1, 150) i
            """);

        var page = await GetAsync("/api/admin/devices");

        Assert.That(page.GetProperty("devices").GetArrayLength(), Is.EqualTo(100));
        Assert.That(page.GetProperty("total").GetInt64(), Is.EqualTo(154));
    }

    [TestCase("limit=0", "limit")]
    [TestCase("limit=1001", "limit")]
    [TestCase("limit=ten", "limit")]
    [TestCase("limit=-5", "limit")]
    [TestCase("offset=-1", "offset")]
    [TestCase("offset=1.5", "offset")]
    [TestCase("device_model=esp%2032", "device_model")]
    [TestCase("group=has%20space", "group")]
    [TestCase("version=1.0", "version")]
    [TestCase("version=", "version")]
    public async Task Bad_query_parameters_are_400_naming_the_parameter(string query, string field)
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.GetAsync($"/api/admin/devices?{query}");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
    }

    [Test]
    public async Task Listing_needs_a_key()
    {
        using var anonymous = _factory.CreateClient();

        await (await anonymous.GetAsync("/api/admin/devices")).AssertProblemAsync(HttpStatusCode.Unauthorized);
        await (await anonymous.GetAsync("/api/admin/devices/esp32_001")).AssertProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Test]
    public async Task A_device_shows_its_current_update_last_offer_rollouts_and_history_newest_first()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0");
        using (var admin = _factory.CreateAdminClient())
        {
            var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create",
                """{"name": "esp32-all", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""");
            Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }

        using var device = _factory.CreateClient();
        await device.CheckAsync("esp32_001", "esp32", "1.0.0");
        foreach (var (status, progress) in new[] { ("downloading", 10), ("downloading", 60), ("installing", 100) })
        {
            var reported = await device.PostAsJsonAsync("/api/device/esp32_001/update-status",
                new { device_id = "esp32_001", firmware_version = "1.2.0", status, progress_percent = progress });
            Assert.That(reported.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var detail = await GetAsync("/api/admin/devices/esp32_001");
        var listed = (await GetAsync("/api/admin/devices?device_model=esp32")).GetProperty("devices")[0];

        var update = detail.GetProperty("update");
        Assert.That(update.GetProperty("rollout").GetString(), Is.EqualTo("esp32-all"));
        Assert.That(update.GetProperty("target_version").GetString(), Is.EqualTo("1.2.0"));
        Assert.That(update.GetProperty("from_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(update.GetProperty("status").GetString(), Is.EqualTo("installing"));
        Assert.That(update.GetProperty("progress").GetInt32(), Is.EqualTo(100));
        Assert.That(update.GetProperty("changed_at").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(listed.GetProperty("update").GetProperty("status").GetString(), Is.EqualTo("installing"));
        Assert.That(detail.GetProperty("last_offer").GetProperty("rollout").GetString(), Is.EqualTo("esp32-all"));
        Assert.That(detail.GetProperty("rollouts")[0].GetProperty("status").GetString(), Is.EqualTo("installing"));
        Assert.That(detail.GetProperty("history").EnumerateArray().Select(h => h.GetProperty("status").GetString() + h.GetProperty("progress_percent")),
            Is.EqualTo(new[] { "installing100", "downloading60", "downloading10" }));
    }

    [Test]
    public async Task The_history_of_a_device_is_capped()
    {
        await AdminFixtures.ExecuteAsync(_db, """
            insert into device_update_status (device_id, firmware_version, status, progress_percent, reported_at)
            select 'esp32_001', '1.2.0', 'downloading', i % 100, now() - i * interval '1 minute' from generate_series(1, 80) i
            """);

        var detail = await GetAsync("/api/admin/devices/esp32_001");

        Assert.That(detail.GetProperty("history").GetArrayLength(), Is.EqualTo(50));
        Assert.That(detail.GetProperty("history_limit").GetInt32(), Is.EqualTo(50));
        Assert.That(detail.GetProperty("history")[0].GetProperty("progress_percent").GetInt32(), Is.EqualTo(1), "newest first");
    }

    [Test]
    public async Task An_unknown_device_is_404_and_a_bad_id_400()
    {
        using var reader = _factory.CreateAdminClient(write: false);

        await (await reader.GetAsync("/api/admin/devices/esp32_999")).AssertProblemAsync(HttpStatusCode.NotFound);
        await (await reader.GetAsync("/api/admin/devices/bad%20id")).AssertProblemAsync(HttpStatusCode.BadRequest, "device_id");
    }
}

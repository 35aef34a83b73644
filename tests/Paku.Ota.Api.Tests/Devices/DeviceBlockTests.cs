using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Devices;

/// <summary>Revoking a device: an operator blocks it (and unblocks it), audited; from then on every
/// request of the device is refused 403 with the reason, on every replica within the catalog refresh,
/// and listings and /explain show it blocked.</summary>
[NonParallelizable]
public sealed class DeviceBlockTests
{
    private const string Check = "/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0";

    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private HttpClient _admin = null!;
    private HttpClient _device = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        (_db, _factory) = await AdminFixtures.StartAsync("paku_test_blocks");
        _admin = _factory.CreateAdminClient();
        _device = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _admin.Dispose();
        _device.Dispose();
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await new FleetData(_db).AddRolloutAsync("all", "esp32", "1.1.0", "all");
        _factory.RefreshCatalog();
        Assert.That((await _device.GetAsync(Check)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the device checks in before it is blocked");
    }

    private Task<HttpResponseMessage> BlockAsync(string id, string reason) =>
        _admin.SendJsonAsync(HttpMethod.Put, $"/api/admin/devices/{id}/block", JsonSerializer.Serialize(new { reason }));

    [Test]
    public async Task A_blocked_device_is_refused_403_with_the_reason_on_every_device_endpoint_and_nothing_is_written()
    {
        var blocked = await BlockAsync("esp32_001", "certificate stolen from the warehouse");
        Assert.That(blocked.StatusCode, Is.EqualTo(HttpStatusCode.OK), await blocked.Content.ReadAsStringAsync());
        var lastSeen = await AdminFixtures.CountAsync(_db, "select extract(epoch from last_seen)::bigint * 1000000 + extract(microseconds from last_seen)::bigint from devices");

        var responses = new[]
        {
            await _device.GetAsync(Check),
            await _device.GetAsync("/api/firmware/download/1.1.0?device_model=esp32&device_id=esp32_001"),
            await _device.PostAsJsonAsync("/api/device/esp32_001/update-status",
                new { device_id = "esp32_001", firmware_version = "1.1.0", status = "downloading", progress_percent = 5 }),
        };

        foreach (var response in responses)
        {
            var problem = await response.AssertProblemAsync(HttpStatusCode.Forbidden);
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Device 'esp32_001' is blocked: certificate stolen from the warehouse"));
        }

        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from device_update_status"), Is.Zero);
        Assert.That(await AdminFixtures.CountAsync(_db, "select extract(epoch from last_seen)::bigint * 1000000 + extract(microseconds from last_seen)::bigint from devices"),
            Is.EqualTo(lastSeen), "a refused check does not touch the device");
    }

    [Test]
    public async Task Unblocking_serves_the_device_again_and_both_are_audited_with_the_key()
    {
        await BlockAsync("esp32_001", "lost");
        var unblocked = await _admin.DeleteAsync("/api/admin/devices/esp32_001/block");
        var again = await _admin.DeleteAsync("/api/admin/devices/esp32_001/block");

        Assert.That(unblocked.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        await again.AssertProblemAsync(HttpStatusCode.NotFound);
        Assert.That((await _device.GetAsync(Check)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var audit = await (await _admin.GetAsync("/api/admin/audit")).JsonAsync();
        var entries = audit.GetProperty("entries").EnumerateArray()
            .Select(e => (e.GetProperty("actor").GetString(), e.GetProperty("action").GetString(), e.GetProperty("target").GetString(), e.GetProperty("outcome").GetString()))
            .ToList();
        Assert.That(entries, Is.EqualTo(new[]
        {
            ("test-writer", "device.unblock", "esp32_001", "refused (404)"),
            ("test-writer", "device.unblock", "esp32_001", "succeeded"),
            ("test-writer", "device.block", "esp32_001", "succeeded"),
        }));
    }

    [Test]
    public async Task The_device_list_the_device_and_explain_show_it_blocked()
    {
        await BlockAsync("esp32_001", "cloned certificate seen in two places");

        var list = await (await _admin.GetAsync("/api/admin/devices")).JsonAsync();
        var one = await (await _admin.GetAsync("/api/admin/devices/esp32_001")).JsonAsync();
        var explain = await (await _admin.GetAsync("/api/admin/devices/esp32_001/explain")).JsonAsync();

        var listed = list.GetProperty("devices")[0].GetProperty("blocked");
        Assert.That(listed.GetProperty("reason").GetString(), Is.EqualTo("cloned certificate seen in two places"));
        Assert.That(listed.GetProperty("blocked_by").GetString(), Is.EqualTo("test-writer"));
        Assert.That(one.GetProperty("blocked").GetProperty("reason").GetString(), Is.EqualTo("cloned certificate seen in two places"));
        Assert.That(explain.GetProperty("device").GetProperty("blocked").ValueKind, Is.EqualTo(JsonValueKind.Object));
        Assert.That(explain.GetProperty("would_offer").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(explain.GetProperty("summary").GetString(), Does.Contain("is blocked"));
    }

    [Test]
    public async Task Another_replica_refuses_the_device_within_the_catalog_refresh()
    {
        await using var replica = new ApiFactory(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:Catalog:RefreshSeconds"] = "1" });
        using var device = replica.CreateClient();
        Assert.That((await device.GetAsync(Check)).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the replica has the catalog cached");

        await BlockAsync("esp32_001", "revoked");

        var refused = false;
        for (var attempt = 0; attempt < 40 && !refused; attempt++)
        {
            await Task.Delay(250);
            refused = (await device.GetAsync(Check)).StatusCode == HttpStatusCode.Forbidden;
        }

        Assert.That(refused, Is.True, "the other replica refused the device within 10 s (refresh: 1 s)");
    }

    [TestCase("{}", "reason", "reason is required")]
    [TestCase("{\"reason\":\"   \"}", "reason", "reason is required")]
    [TestCase("{\"reason\":42}", "reason", "must be a string")]
    [TestCase("{\"reason\":\"x\",\"until\":\"tomorrow\"}", "until", "not a field here")]
    public async Task A_bad_block_is_refused_naming_the_field_and_blocks_nothing(string body, string field, string words)
    {
        var response = await _admin.SendJsonAsync(HttpMethod.Put, "/api/admin/devices/esp32_001/block", body);

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.That(problem.ToString(), Does.Contain(words));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from device_blocks"), Is.Zero);
    }

    [Test]
    public async Task Blocking_needs_the_write_key()
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.SendJsonAsync(HttpMethod.Put, "/api/admin/devices/esp32_001/block", "{\"reason\":\"x\"}");

        await response.AssertProblemAsync(HttpStatusCode.Forbidden);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from device_blocks"), Is.Zero);
    }
}

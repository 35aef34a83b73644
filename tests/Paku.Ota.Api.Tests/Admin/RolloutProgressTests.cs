using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>GET /api/admin/rollout/{name} and /rollouts: live progress counted from the rollout's devices.</summary>
[NonParallelizable]
public sealed class RolloutProgressTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_rollout_progress");

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
        await AdminFixtures.InsertReleaseAsync(_db, "esp8266", "2.0.0");
        using var admin = _factory.CreateAdminClient();
        foreach (var body in new[]
        {
            """{"name": "esp32-all", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all"}""",
            """{"name": "esp8266-all", "firmware_version": "2.0.0", "device_model": "esp8266", "target_type": "all"}""",
        })
        {
            Assert.That((await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body)).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        }
    }

    private async Task<JsonElement> ProgressAsync(string name = "esp32-all")
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var response = await reader.GetAsync($"/api/admin/rollout/{name}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        return (await response.JsonAsync()).GetProperty("progress");
    }

    [Test]
    public async Task Progress_follows_devices_through_the_update_lifecycle()
    {
        using var device = _factory.CreateClient();
        await device.CheckAsync("esp32_001", "esp32", "1.0.0");
        await device.CheckAsync("esp32_002", "esp32", "1.0.0");
        await device.CheckAsync("esp32_003", "esp32", "1.0.0");
        var offered = await ProgressAsync();

        await Report(device, "esp32_001", "downloading", 30);
        await Report(device, "esp32_002", "success", 100);
        await Report(device, "esp32_003", "failed", 40);
        var reported = await ProgressAsync();

        await device.CheckAsync("esp32_002", "esp32", "1.2.0");
        var confirmed = await ProgressAsync();

        Assert.That(offered.GetProperty("targeted").GetInt32(), Is.EqualTo(3));
        Assert.That(offered.GetProperty("offered").GetInt32(), Is.EqualTo(3));
        Assert.That(offered.GetProperty("attempts").GetInt32(), Is.Zero);
        Assert.That(reported.GetProperty("offered").GetInt32(), Is.Zero);
        Assert.That(reported.GetProperty("downloading").GetInt32(), Is.EqualTo(1));
        Assert.That(reported.GetProperty("reported_success").GetInt32(), Is.EqualTo(1));
        Assert.That(reported.GetProperty("failed").GetInt32(), Is.EqualTo(1));
        Assert.That(reported.GetProperty("attempts").GetInt32(), Is.EqualTo(3));
        Assert.That(reported.GetProperty("failure_rate_percent").GetDecimal(), Is.EqualTo(33.33m));
        Assert.That(confirmed.GetProperty("reported_success").GetInt32(), Is.Zero);
        Assert.That(confirmed.GetProperty("confirmed").GetInt32(), Is.EqualTo(1));
    }

    private static async Task Report(HttpClient device, string id, string status, int progress)
    {
        var response = await device.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = "1.2.0", status, progress_percent = progress });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Every_status_is_counted_and_the_failure_rate_is_failed_and_rolled_back_per_attempt()
    {
        var statuses = new[] { "offered", "offered", "downloading", "installing", "success", "confirmed", "confirmed", "confirmed", "failed", "rolled_back" };
        for (var i = 0; i < statuses.Length; i++)
        {
            await AdminFixtures.InsertDeviceAsync(_db, $"esp32_{i:D3}");
            await AdminFixtures.ExecuteAsync(_db, """
                insert into rollout_devices (rollout_id, device_id, status)
                select id, @device, @status from rollouts where name = 'esp32-all'
                """, new { device = $"esp32_{i:D3}", status = statuses[i] });
        }

        var progress = await ProgressAsync();
        var other = await ProgressAsync("esp8266-all");

        Assert.That(progress.GetProperty("targeted").GetInt32(), Is.EqualTo(10));
        Assert.That(progress.GetProperty("offered").GetInt32(), Is.EqualTo(2));
        Assert.That(progress.GetProperty("downloading").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("installing").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("reported_success").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("confirmed").GetInt32(), Is.EqualTo(3));
        Assert.That(progress.GetProperty("failed").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("rolled_back").GetInt32(), Is.EqualTo(1));
        Assert.That(progress.GetProperty("attempts").GetInt32(), Is.EqualTo(8));
        Assert.That(progress.GetProperty("failure_rate_percent").GetDecimal(), Is.EqualTo(25m));
        Assert.That(other.GetProperty("targeted").GetInt32(), Is.Zero, "counts are per rollout");
        Assert.That(other.GetProperty("failure_rate_percent").GetDecimal(), Is.Zero);
    }

    [Test]
    public async Task The_list_carries_progress_and_filters_by_model()
    {
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001");
        await AdminFixtures.ExecuteAsync(_db,
            "insert into rollout_devices (rollout_id, device_id, status) select id, 'esp32_001', 'failed' from rollouts where name = 'esp32-all'");
        using var reader = _factory.CreateAdminClient(write: false);

        var all = await (await reader.GetAsync("/api/admin/rollouts")).JsonAsync();
        var esp32 = await (await reader.GetAsync("/api/admin/rollouts?device_model=esp32")).JsonAsync();

        Assert.That(all.GetProperty("rollouts").GetArrayLength(), Is.EqualTo(2));
        Assert.That(esp32.GetProperty("rollouts").GetArrayLength(), Is.EqualTo(1));
        Assert.That(esp32.GetProperty("rollouts")[0].GetProperty("progress").GetProperty("failure_rate_percent").GetDecimal(), Is.EqualTo(100m));
    }

    [Test]
    public async Task A_withdrawn_release_shows_on_its_rollout()
    {
        await AdminFixtures.ExecuteAsync(_db, "update firmware_releases set withdrawn_at = now(), withdrawn_reason = 'bad' where version = '1.2.0'");
        using var reader = _factory.CreateAdminClient(write: false);

        var rollout = await (await reader.GetAsync("/api/admin/rollout/esp32-all")).JsonAsync();

        Assert.That(rollout.GetProperty("release_withdrawn").GetBoolean(), Is.True);
    }
}

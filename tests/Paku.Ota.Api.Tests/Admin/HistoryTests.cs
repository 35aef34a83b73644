using System.Net;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>GET /api/admin/update-status: the seed's update history, newest first, with validated filters.</summary>
[NonParallelizable]
public sealed class HistoryTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_history");

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
        await AdminFixtures.ExecuteAsync(_db, """
            insert into device_update_status (device_id, firmware_version, status, progress_percent, error_message, source, reported_at) values
              ('esp32_001', '1.2.0', 'downloading', 10, null,             'device', now() - interval '6 hours'),
              ('esp32_001', '1.2.0', 'failed',      40, 'flash write 3', 'device', now() - interval '5 hours'),
              ('esp32_001', '1.2.0', 'downloading',  0, null,             'device', now() - interval '4 hours'),
              ('esp32_001', '1.2.0', 'success',    100, null,             'device', now() - interval '2 hours'),
              ('esp32_001', '1.2.0', 'confirmed',  100, null,             'server', now() - interval '1 hours'),
              ('esp32_002', '1.2.0+build.4', 'success', 100, null,      'device', now() - interval '3 hours'),
              ('esp32_002', '1.0.0', 'success',    100, null,             'device', now() - interval '3 days');
            """);
    }

    private async Task<IReadOnlyList<JsonElement>> UpdatesAsync(string query)
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var response = await reader.GetAsync($"/api/admin/update-status{query}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return [.. (await response.JsonAsync()).GetProperty("updates").EnumerateArray()];
    }

    [Test]
    public async Task The_seeds_query_lists_updates_newest_first()
    {
        var updates = await UpdatesAsync("?limit=50");

        Assert.That(updates, Has.Count.EqualTo(7));
        Assert.That(updates.Select(u => u.GetProperty("reported_at").GetDateTimeOffset()), Is.Ordered.Descending);
        Assert.That(updates[0].GetProperty("status").GetString(), Is.EqualTo("confirmed"));
        Assert.That(updates[0].GetProperty("source").GetString(), Is.EqualTo("server"));
    }

    [Test]
    public async Task The_seeds_per_device_lookup_shows_errors()
    {
        var updates = await UpdatesAsync("?device_id=esp32_001");

        Assert.That(updates.Select(u => u.GetProperty("status").GetString()), Is.EqualTo(new[] { "confirmed", "success", "downloading", "failed", "downloading" }));
        Assert.That(updates[3].GetProperty("error_message").GetString(), Is.EqualTo("flash write 3"));
        Assert.That(updates[3].GetProperty("progress_percent").GetInt32(), Is.EqualTo(40));
    }

    [TestCase("?firmware_version=1.2.0", 6)]
    [TestCase("?firmware_version=v1.2.0", 6)]
    [TestCase("?firmware_version=1.0.0", 1)]
    [TestCase("?status=success", 3)]
    [TestCase("?status=success&firmware_version=1.2.0", 2)]
    [TestCase("?device_id=esp32_002&status=success", 2)]
    [TestCase("?device_id=esp32_404", 0)]
    [TestCase("?limit=2", 2)]
    public async Task Filters_combine(string query, int count)
    {
        Assert.That(await UpdatesAsync(query), Has.Count.EqualTo(count));
    }

    [Test]
    public async Task The_default_limit_is_50()
    {
        await AdminFixtures.ExecuteAsync(_db, """
            insert into device_update_status (device_id, firmware_version, status, progress_percent)
            select 'esp32_003', '1.2.0', 'downloading', i % 100 from generate_series(1, 60) i
            """);

        Assert.That(await UpdatesAsync(""), Has.Count.EqualTo(50));
        Assert.That(await UpdatesAsync("?limit=1000"), Has.Count.EqualTo(67));
    }

    [TestCase("?limit=0", "limit")]
    [TestCase("?limit=1001", "limit")]
    [TestCase("?limit=many", "limit")]
    [TestCase("?status=exploded", "status")]
    [TestCase("?status=", "status")]
    [TestCase("?firmware_version=latest", "firmware_version")]
    [TestCase("?device_id=bad%20id", "device_id")]
    public async Task Bad_parameters_are_400_naming_the_parameter(string query, string field)
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.GetAsync($"/api/admin/update-status{query}");

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
    }

    [Test]
    public async Task The_history_needs_a_key()
    {
        using var anonymous = _factory.CreateClient();

        await (await anonymous.GetAsync("/api/admin/update-status")).AssertProblemAsync(HttpStatusCode.Unauthorized);
    }
}

using Mediator;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Application.Devices.GetFleetOverview;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>The console's fleet overview use case on real PostgreSQL: counts per model and version,
/// versions compared by SemVer precedence against the newest release that is not withdrawn.</summary>
[NonParallelizable]
public sealed class FleetOverviewTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_fleet_overview");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public Task Reset() => AdminFixtures.ResetAsync(_db, _factory);

    private async Task<FleetOverview> OverviewAsync()
    {
        using var scope = _factory.Services.CreateScope();
        return (await scope.ServiceProvider.GetRequiredService<IMediator>().Send(new GetFleetOverview())).Value;
    }

    [Test]
    public async Task Devices_behind_the_newest_release_are_counted_by_SemVer_and_a_withdrawn_release_does_not_count()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.9.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.10.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "2.0.0", withdrawnReason: "bricks the radio");
        await AdminFixtures.InsertDeviceAsync(_db, "a", "esp32", "1.9.0");
        await AdminFixtures.InsertDeviceAsync(_db, "b", "esp32", "1.9.0");
        await AdminFixtures.InsertDeviceAsync(_db, "c", "esp32", "1.10.0");
        await AdminFixtures.InsertDeviceAsync(_db, "d", "esp8266", "1.0.0");
        await AdminFixtures.ExecuteAsync(_db, "update devices set last_seen = now() - interval '3 days' where device_id = 'b'");
        await AdminFixtures.ExecuteAsync(_db, "update devices set update_status = 'failed', update_target_version = '1.10.0', update_progress = 0 where device_id = 'a'");

        var overview = await OverviewAsync();

        Assert.That(overview.Devices, Is.EqualTo(4));
        Assert.That(overview.SeenRecently, Is.EqualTo(3));
        Assert.That(overview.NeedingUpdate, Is.EqualTo(2), "1.9.0 < 1.10.0 (not as text); 1.10.0 is newest as 2.0.0 is withdrawn; esp8266 has no release");
        Assert.That(overview.Failing, Is.EqualTo(1));
        Assert.That(overview.Versions.Select(v => $"{v.DeviceModel} {v.Version} {v.Devices} {v.NewestRelease ?? "-"} {v.NeedsUpdate}"), Is.EqualTo(new[]
        {
            "esp32 1.10.0 1 1.10.0 False",
            "esp32 1.9.0 2 1.10.0 True",
            "esp8266 1.0.0 1 - False",
        }));
    }
}

using Dapper;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The <c>rollout_health</c> view is the one SQL definition of a rollout's state, attempts and
/// failures; these tests pin it to the Domain's (<see cref="Rollout.State"/>, <see cref="RolloutHealth"/>)
/// status by status, so that neither can change without the other.</summary>
[NonParallelizable]
public sealed class RolloutHealthViewTests
{
    /// <summary>Every value rollout_devices.status may hold: offered (not started) and each update status.</summary>
    private static readonly string[] StoredStatuses = ["offered", .. Enum.GetValues<UpdateStatus>().Select(s => s.ToWire())];

    private TestDatabase _db = null!;
    private FleetData _fleet = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase()
    {
        _db = await TestDatabase.CreateAsync("paku_test_rollout_health");
        _fleet = new FleetData(_db);
    }

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
    }

    [TestCaseSource(nameof(StoredStatuses))]
    public async Task The_view_counts_a_device_in_each_status_as_the_domain_does(string status)
    {
        var id = await _fleet.AddRolloutAsync("r", "esp32", "1.1.0", "all");
        await AddDevicesAsync(id, status);

        var counted = await HealthOfAsync(id);

        Assert.That(counted, Is.EqualTo(RolloutHealth.Count([Parse(status)])));
    }

    [Test]
    public async Task The_view_counts_a_mixed_rollout_as_the_domain_does()
    {
        var id = await _fleet.AddRolloutAsync("r", "esp32", "1.1.0", "all");
        string[] statuses = ["offered", "offered", "downloading", "installing", "success", "confirmed", "confirmed", "failed", "rolled_back", "rolled_back", "timed_out"];
        await AddDevicesAsync(id, statuses);

        var counted = await HealthOfAsync(id);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counted, Is.EqualTo(RolloutHealth.Count(statuses.Select(Parse))));
            Assert.That(await _fleet.ScalarAsync<int>("select failures from rollout_health where rollout_id = @id", new { id }), Is.EqualTo(counted.Failures));
        }
    }

    [TestCaseSource(nameof(StoredStatuses))]
    public async Task The_views_in_flight_count_is_the_domains_for_a_device_in_each_status_offered_recently_or_long_ago(string status)
    {
        var id = await _fleet.AddRolloutAsync("r", "esp32", "1.1.0", "all");
        await _fleet.ScalarAsync<int>("update rollouts set deadline_downloading_minutes = 30 where id = @id returning 1", new { id });
        await AddDevicesAsync(id, status, status);
        // one offered 29 minutes ago, one 31 minutes ago: on either side of the 30-minute downloading deadline
        await _fleet.ScalarAsync<int>("""
            update rollout_devices set offered_at = now() - case device_id when 'd1' then interval '29 minutes' else interval '31 minutes' end
            where rollout_id = @id returning 1
            """, new { id });
        var rows = await _fleet.QueryAsync<(string Status, DateTime OfferedAt, DateTime Now)>(
            "select status, offered_at, now() from rollout_devices where rollout_id = @id", new { id });
        var deadline = AttemptDeadline.FromMinutes(30, 60, 120);

        var expected = rows.Count(r => RolloutHealth.IsInFlight(
            Parse(r.Status), new DateTimeOffset(DateTime.SpecifyKind(r.OfferedAt, DateTimeKind.Utc)), deadline, new DateTimeOffset(DateTime.SpecifyKind(r.Now, DateTimeKind.Utc))));

        Assert.That(await _fleet.ScalarAsync<int>("select in_flight from rollout_health where rollout_id = @id", new { id }), Is.EqualTo(expected));
    }

    [TestCase(true, false)]
    [TestCase(true, true)]
    [TestCase(false, false)]
    [TestCase(false, true)]
    public async Task The_view_names_the_state_as_the_domain_does(bool isActive, bool halted)
    {
        var id = await _fleet.AddRolloutAsync("r", "esp32", "1.1.0", "all", active: isActive);
        await _fleet.ScalarAsync<int>(
            "update rollouts set halted_at = case when @halted then now() end, pause_reason = 'why' where id = @id returning 1", new { id, halted });
        var restored = Rollout.Restore("r", "esp32", FirmwareVersion.Parse("1.1.0"), TargetType.All, TargetFilter.None, 100, isActive,
            allowDowngrade: false, FailureThreshold.Default, "why", isHalted: halted);

        var state = await _fleet.ScalarAsync<string>("select state from rollout_health where rollout_id = @id", new { id });

        Assert.That(state, Is.EqualTo(restored.State.ToWire()));
    }

    [Test]
    public async Task The_health_store_reads_the_views_figures_with_the_rollouts_threshold()
    {
        var id = await _fleet.AddRolloutAsync("r", "esp32", "1.1.0", "all", thresholdPercent: 7.5m, minimumAttempts: 3);
        await AddDevicesAsync(id, "failed", "success", "offered", "confirmed");

        var figures = (await new RolloutHealthStore(_db.DataSource).ReadAsync([id], CancellationToken.None)).Single();

        Assert.That(figures, Is.EqualTo(new RolloutHealthFigures(id, "r", RolloutState.Active, new FailureThreshold(7.5m, 3), new RolloutCounts(3, 1, 0, Confirmed: 1))));
    }

    private static UpdateStatus? Parse(string status) => UpdateStatuses.TryParse(status, out var parsed) ? parsed : null;

    private async Task AddDevicesAsync(long rolloutId, params string[] statuses)
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into devices (device_id, device_model, current_firmware_version)
            select 'd' || i, 'esp32', '1.0.0' from generate_series(1, cardinality(@statuses)) i
            on conflict do nothing;
            insert into rollout_devices (rollout_id, device_id, status)
            select @rolloutId, 'd' || i, s from unnest(@statuses) with ordinality as u(s, i);
            """, new { rolloutId, statuses });
    }

    private async Task<RolloutCounts> HealthOfAsync(long rolloutId)
    {
        var row = (await _fleet.QueryAsync<(int Attempts, int Failed, int RolledBack, int TimedOut, int Confirmed)>(
            "select attempts, failed, rolled_back, timed_out, confirmed from rollout_health where rollout_id = @rolloutId", new { rolloutId })).Single();
        return new RolloutCounts(row.Attempts, row.Failed, row.RolledBack, row.TimedOut, row.Confirmed);
    }
}

using Dapper;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The user's own SQL (group assignment, group query and the four Grafana panels of the seed
/// document), run verbatim against the migrated schema holding known data.</summary>
[NonParallelizable]
public sealed class SeedSqlCompatibilityTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Seed()
    {
        await _db.ResetAsync();
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into firmware_binaries (sha256, size_bytes, content)
            values (repeat('a', 64), 3, '\xe90102'), (repeat('b', 64), 3, '\xe90304');
            insert into firmware_releases (version, device_model, checksum_sha256, size_bytes, created_at) values
              ('1.0.0', 'esp32',   repeat('a', 64), 3, now() - interval '2 days'),
              ('1.2.0', 'esp32',   repeat('b', 64), 3, now() - interval '1 day'),
              ('2.0.0', 'esp8266', repeat('a', 64), 3, now() - interval '1 day');
            insert into devices (device_id, device_model, current_firmware_version, last_seen) values
              ('esp32_001',   'esp32',   '1.0.0', now() - interval '3 hours'),
              ('esp32_002',   'esp32',   '1.2.0', now() - interval '2 hours'),
              ('esp32_003',   'esp32',   '1.0.0', now() - interval '1 hours'),
              ('esp8266_001', 'esp8266', '2.0.0', now());
            insert into device_update_status (device_id, firmware_version, status, progress_percent, reported_at) values
              ('esp32_002', '1.2.0', 'success',     100, now() - interval '1 hour'),
              ('esp32_001', '1.2.0', 'success',     100, now() - interval '2 hours'),
              ('esp32_003', '1.2.0', 'success',     100, now() - interval '3 hours'),
              ('esp32_001', '1.2.0', 'failed',       40, now() - interval '5 hours'),
              ('esp32_001', '1.2.0', 'downloading',  10, now() - interval '6 hours'),
              ('esp32_003', '1.2.0', 'downloading',  10, now() - interval '6 hours'),
              ('esp32_002', '1.0.0', 'success',     100, now() - interval '3 days'),
              ('esp32_002', '1.0.0', 'failed',        0, now() - interval '10 days');
            """);
    }

    [Test]
    public async Task Group_assignment_and_group_query_from_the_seed_work_unchanged()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        var updated = await c.ExecuteAsync("""
            -- Assign groups to a device
            UPDATE devices 
            SET metadata = jsonb_set(
                COALESCE(metadata, '{}'::jsonb),
                '{groups}',
                '["location:warehouse", "function:sensor", "env:production"]'::jsonb
            )
            WHERE device_id = 'esp32_001';
            """);
        var rows = (await c.QueryAsync<(string DeviceId, string DeviceModel, string Groups)>("""
            -- Query devices by group
            SELECT device_id, device_model, metadata->'groups' as groups
            FROM devices
            WHERE metadata->'groups' ? 'location:warehouse';
            """)).ToList();

        Assert.That(updated, Is.EqualTo(1));
        Assert.That(rows, Has.Count.EqualTo(1));
        Assert.That(rows[0].DeviceId, Is.EqualTo("esp32_001"));
        Assert.That(rows[0].Groups, Is.EqualTo("""["location:warehouse", "function:sensor", "env:production"]"""));
    }

    [Test]
    public async Task Devices_by_firmware_version_panel_counts_the_fleet()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<(string Version, long Count)>("""
            -- Total devices by firmware version
            SELECT 
                current_firmware_version,
                COUNT(*) as device_count
            FROM devices
            GROUP BY current_firmware_version
            ORDER BY device_count DESC;
            """)).ToList();

        Assert.That(rows[0], Is.EqualTo(("1.0.0", 2L)));
        Assert.That(rows.Skip(1), Is.EquivalentTo(new[] { ("1.2.0", 1L), ("2.0.0", 1L) }));
    }

    [Test]
    public async Task Success_rate_panel_counts_the_last_24_hours_only()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<(string Status, long Count, decimal Percentage)>("""
            -- Update success rate (last 24h)
            SELECT 
                status,
                COUNT(*) as count,
                COUNT(*) * 100.0 / SUM(COUNT(*)) OVER () as percentage
            FROM device_update_status
            WHERE reported_at > NOW() - INTERVAL '24 hours'
                AND status IN ('success', 'failed')
            GROUP BY status;
            """)).ToDictionary(r => r.Status);

        Assert.That(rows.Keys, Is.EquivalentTo(new[] { "success", "failed" }));
        Assert.That(rows["success"].Count, Is.EqualTo(3));
        Assert.That(rows["success"].Percentage, Is.EqualTo(75m));
        Assert.That(rows["failed"].Percentage, Is.EqualTo(25m));
    }

    [Test]
    public async Task Update_activity_panel_buckets_the_last_7_days_by_hour()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<(DateTime Hour, string Status, long Count)>("""
            -- Recent update activity
            SELECT 
                DATE_TRUNC('hour', reported_at) as hour,
                status,
                COUNT(*) as count
            FROM device_update_status
            WHERE reported_at > NOW() - INTERVAL '7 days'
            GROUP BY hour, status
            ORDER BY hour DESC;
            """)).ToList();

        Assert.That(rows.Sum(r => r.Count), Is.EqualTo(7), "the report 10 days old is outside the window");
        Assert.That(rows.Where(r => r.Status == "downloading").Sum(r => r.Count), Is.EqualTo(2));
        Assert.That(rows.Select(r => r.Hour), Is.Ordered.Descending);
    }

    [Test]
    public async Task Devices_needing_updates_panel_lists_devices_behind_their_models_latest_release()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<(string DeviceId, string Model, string Current, string Latest, DateTime LastSeen)>("""
            -- Devices needing updates
            SELECT 
                d.device_id,
                d.device_model,
                d.current_firmware_version,
                fr.version as latest_version,
                d.last_seen
            FROM devices d
            JOIN firmware_releases fr ON d.device_model = fr.device_model
            WHERE d.current_firmware_version != fr.version
                AND fr.created_at = (
                    SELECT MAX(created_at) 
                    FROM firmware_releases 
                    WHERE device_model = d.device_model
                )
            ORDER BY d.last_seen DESC;
            """)).ToList();

        Assert.That(rows.Select(r => r.DeviceId), Is.EqualTo(new[] { "esp32_003", "esp32_001" }));
        Assert.That(rows.Select(r => r.Latest), Is.All.EqualTo("1.2.0"));
    }
}

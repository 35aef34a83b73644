using System.Security.Cryptography;
using Dapper;

namespace Paku.Ota.Testing;

/// <summary>Writes releases, rollouts and device groups straight into a test database, for tests of
/// the device paths that need a catalog but are not about how the admin API builds one.</summary>
public sealed class FleetData(TestDatabase db)
{
    /// <summary>An ESP app image stand-in: starts with the 0xE9 magic byte, then deterministic filler.</summary>
    public static byte[] Image(int size, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0xE9;
        return bytes;
    }

    public async Task<long> AddReleaseAsync(string model, string version, byte[]? content = null, string? minVersion = null, string? notes = null)
    {
        content ??= Image(4096, version.GetHashCode(StringComparison.Ordinal));
        var sha = Convert.ToHexStringLower(SHA256.HashData(content));
        await using var c = await db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            "insert into firmware_binaries (sha256, size_bytes, content) values (@sha, @size, @content) on conflict do nothing",
            new { sha, size = (long)content.Length, content });
        return await c.ExecuteScalarAsync<long>("""
            insert into firmware_releases (version, device_model, checksum_sha256, size_bytes, min_version, release_notes)
            values (@version, @model, @sha, @size, @minVersion, @notes) returning id
            """, new { version, model, sha, size = (long)content.Length, minVersion, notes });
    }

    public async Task<long> AddRolloutAsync(string name, string model, string version, string targetType, string filterJson = "{}",
        int percentage = 100, bool active = true, bool allowDowngrade = false, decimal thresholdPercent = 5, int minimumAttempts = 20)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("""
            insert into rollouts (name, release_id, firmware_version, device_model, target_type, target_filter, rollout_percentage,
                                  is_active, allow_downgrade, failure_threshold_percent, failure_min_attempts)
            select @name, id, version, device_model, @targetType, @filterJson::jsonb, @percentage, @active, @allowDowngrade,
                   @thresholdPercent, @minimumAttempts
            from firmware_releases where device_model = @model and version = @version
            returning id
            """, new { name, model, version, targetType, filterJson, percentage, active, allowDowngrade, thresholdPercent, minimumAttempts });
    }

    public async Task SetGroupsAsync(string deviceId, params string[] groups)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            "update devices set metadata = jsonb_set(coalesce(metadata, '{}'::jsonb), '{groups}', to_jsonb(@groups::text[])) where device_id = @deviceId",
            new { deviceId, groups });
    }

    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return (await c.ExecuteScalarAsync<T>(sql, args))!;
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? args = null)
    {
        await using var c = await db.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<T>(sql, args)).ToList();
    }
}

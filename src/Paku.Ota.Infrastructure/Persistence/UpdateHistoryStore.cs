using Dapper;
using Npgsql;
using Paku.Ota.Application.Devices;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>The append-only update history (device_update_status), newest first.</summary>
public sealed class UpdateHistoryStore(NpgsqlDataSource dataSource) : IUpdateHistory
{
    public async Task<IReadOnlyList<UpdateHistoryEntry>> ListAsync(UpdateHistoryFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            select s.id, s.device_id, s.firmware_version, s.status, s.progress_percent, s.error_message,
                   r.name as rollout, s.source, s.reported_at
            from device_update_status s
            left join rollouts r on r.id = s.rollout_id
            where (@deviceId::text is null or s.device_id = @deviceId)
              and (@version::text is null or ota_semver_key(s.firmware_version) = ota_semver_key(@version))
              and (@status::text is null or s.status = @status)
            order by s.reported_at desc, s.id desc
            limit @limit
            """, new { deviceId = filter.DeviceId, version = filter.FirmwareVersion, status = filter.Status, limit = filter.Limit },
            cancellationToken: cancellationToken));
        return [.. rows.Select(r => new UpdateHistoryEntry(
            r.id, r.device_id, r.firmware_version, r.status, r.progress_percent, r.error_message, r.rollout, r.source,
            new DateTimeOffset(DateTime.SpecifyKind(r.reported_at, DateTimeKind.Utc))))];
    }

#pragma warning disable IDE1006, SA1300 // column-named row for Dapper
    private sealed record Row(long id, string device_id, string firmware_version, string status, int progress_percent, string? error_message,
        string? rollout, string source, DateTime reported_at);
#pragma warning restore IDE1006, SA1300
}

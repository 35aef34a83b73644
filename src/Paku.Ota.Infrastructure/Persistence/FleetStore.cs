using Dapper;
using Npgsql;
using Paku.Ota.Application.Devices.GetFleetOverview;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Fleet figures for the console's overview: one grouped scan of the devices, and the released
/// versions per model (compared by the Application with the Domain's SemVer, not here).</summary>
public sealed class FleetStore(NpgsqlDataSource dataSource) : IFleetQueries
{
    public async Task<IReadOnlyList<FleetCount>> CountAsync(DateTimeOffset seenSince, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Model, string Version, long Devices, long Seen, long Failing)>(new CommandDefinition("""
            select device_model, current_firmware_version, count(*)::bigint,
                   (count(*) filter (where last_seen >= @seenSince))::bigint,
                   (count(*) filter (where update_status in ('failed', 'rolled_back', 'timed_out')))::bigint
              from devices
             group by 1, 2
            """, new { seenSince }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new FleetCount(r.Model, r.Version, r.Devices, r.Seen, r.Failing))];
    }

    public async Task<IReadOnlyList<(string DeviceModel, string Version)>> ReleasedVersionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string, string)>(new CommandDefinition(
            "select device_model, version from firmware_releases where withdrawn_at is null", cancellationToken: cancellationToken));
        return [.. rows];
    }
}

using Dapper;
using Npgsql;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Finds attempts silent past their rollout's deadline. Per rollout through the
/// (rollout_id, status) index, so only attempts in flight are read; the device's own attempt must
/// still be this rollout's (the ledger decides again under the device's lock).</summary>
public sealed class OverdueAttemptStore(NpgsqlDataSource dataSource) : IOverdueAttempts
{
    public async Task<IReadOnlyList<OverdueAttempt>> FindAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            select rd.device_id, r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes
            from rollouts r
            cross join lateral (
                select rd.device_id, rd.status, rd.updated_at
                from rollout_devices rd
                where rd.rollout_id = r.id and rd.status in ('downloading', 'installing', 'success')
            ) rd
            join devices d on d.device_id = rd.device_id and d.update_rollout_id = r.id and d.update_status = rd.status
            where rd.updated_at <= @now - make_interval(mins => case rd.status
                      when 'downloading' then r.deadline_downloading_minutes
                      when 'installing' then r.deadline_installing_minutes
                      else r.deadline_success_minutes end)
            order by rd.updated_at
            limit @limit
            """, new { now = now.UtcDateTime, limit }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new OverdueAttempt(
            r.device_id, AttemptDeadline.FromMinutes(r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes)))];
    }

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record Row(string device_id, int deadline_downloading_minutes, int deadline_installing_minutes, int deadline_success_minutes);
#pragma warning restore IDE1006, SA1300
}

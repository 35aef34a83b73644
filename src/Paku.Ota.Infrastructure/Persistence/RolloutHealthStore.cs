using Dapper;
using Npgsql;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Reads rollouts' health from the <c>rollout_health</c> view, the one SQL definition of
/// attempts and failures (pinned to the Domain's by a test).</summary>
public sealed class RolloutHealthStore(NpgsqlDataSource dataSource) : IRolloutHealthStore
{
    private const string Select = """
        select r.id, r.name, h.state, r.failure_threshold_percent, r.failure_min_attempts, h.attempts, h.failed, h.rolled_back, h.timed_out,
               h.confirmed, r.phase_plan::text as phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by
        from rollouts r
        cross join lateral (select * from rollout_health h where h.rollout_id = r.id) h
        """;

    public async Task<IReadOnlyList<RolloutHealthFigures>> ReadAsync(IReadOnlyCollection<long> rolloutIds, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            Select + "\nwhere r.id = any(@ids)", new { ids = rolloutIds.ToArray() }, cancellationToken: cancellationToken));
        return [.. rows.Select(ToFigures)];
    }

    public async Task<IReadOnlyList<RolloutHealthFigures>> ReadMovedSinceChangedAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(Select + """

            where r.halted_at is null
              and (exists (select 1 from rollout_devices rd where rd.rollout_id = r.id and rd.status <> 'offered' and rd.updated_at > r.updated_at)
                   or (r.is_active and r.phase_plan is not null))
            """, cancellationToken: cancellationToken));
        return [.. rows.Select(ToFigures)];
    }

    private static RolloutHealthFigures ToFigures(Row r) => new(
        r.id, r.name, RolloutStore.ParseState(r.state), new FailureThreshold(r.failure_threshold_percent, r.failure_min_attempts),
        new RolloutCounts(r.attempts, r.failed, r.rolled_back, r.timed_out, r.confirmed),
        PhasePlanJson.Phasing(r.phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by));

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record Row(long id, string name, string state, decimal failure_threshold_percent, int failure_min_attempts,
        int attempts, int failed, int rolled_back, int timed_out, int confirmed, string? phase_plan, int phase_index,
        DateTime? phase_started_at, string? phase_held_by);
#pragma warning restore IDE1006, SA1300
}

using Dapper;
using Npgsql;
using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Infrastructure.Events;

/// <summary>Records rollouts that completed (the <c>rollout_completion</c> view, pinned to the Domain's
/// <see cref="Domain.Rollouts.RolloutCompletion"/>): sets <c>completed_at</c> once and appends the
/// completion event in the same transaction. Idempotent, and across replicas at most one completion per
/// rollout: the conditional update takes the row lock and re-checks <c>completed_at is null</c> after any
/// other replica's commit (and a unique index on the outbox backs that up).</summary>
public sealed class RolloutCompletionStore(NpgsqlDataSource dataSource, RolloutEventOutbox outbox)
{
    /// <summary>Returns the names of the rollouts this call found completed.</summary>
    public async Task<IReadOnlyList<string>> RecordCompletionsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // a plain read first: updating rollouts moves the catalog generation (every replica reloads), so
        // the update runs only when something completed
        var candidates = (await connection.QueryAsync<long>(new CommandDefinition("""
            select r.id from rollouts r join rollout_completion c on c.rollout_id = r.id where c.complete and r.completed_at is null
            """, cancellationToken: cancellationToken))).ToArray();
        if (candidates.Length == 0)
        {
            return [];
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var completed = (await connection.QueryAsync<Completed>(new CommandDefinition("""
            update rollouts r
               set completed_at = now()
              from rollout_completion c
             where c.rollout_id = r.id and r.id = any(@candidates) and c.complete and r.completed_at is null
            returning r.name, r.device_model, r.firmware_version,
                      (select count(*)::int from rollout_devices rd where rd.rollout_id = r.id and rd.status = 'confirmed') as confirmed,
                      (select h.attempts from rollout_health h where h.rollout_id = r.id) as attempts
            """, new { candidates }, transaction, cancellationToken: cancellationToken))).ToList();
        foreach (var rollout in completed)
        {
            await outbox.AppendAsync(
                connection, transaction,
                RolloutEvent.Completed(rollout.name, rollout.device_model, rollout.firmware_version, rollout.confirmed, rollout.attempts),
                cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return [.. completed.Select(c => c.name)];
    }

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record Completed(string name, string device_model, string firmware_version, int confirmed, int attempts);
#pragma warning restore IDE1006, SA1300
}

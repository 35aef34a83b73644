using Npgsql;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>A paced rollout's budget row (rollout_pace), shared by every replica. An admission locks the
/// row, reads the minute's offers and the in-flight count (<c>rollout_health</c>, read after the lock so
/// that it sees every admission committed before), lets the Domain decide, and writes the offer and the
/// spent budget before the lock goes: the replicas together never pass the pace. This runs only for a
/// device's first offer of a paced rollout (three round trips where an unpaced first offer takes one);
/// the common check never comes here.</summary>
public sealed class PaceLedger(NpgsqlDataSource dataSource) : IPaceLedger
{
    public async Task<PaceDecision> TryAdmitAsync(
        long rolloutId, Pace pace, string deviceId, string version, string fromVersion, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        PaceUsage usage;
        await using (var read = new NpgsqlBatch(connection, transaction))
        {
            read.BatchCommands.Add(Command("insert into rollout_pace (rollout_id) values ($1) on conflict do nothing", rolloutId));
            read.BatchCommands.Add(Command("select minute, offers from rollout_pace where rollout_id = $1 for update", rolloutId));
            read.BatchCommands.Add(Command("select in_flight from rollout_health where rollout_id = $1", rolloutId));
            await using var reader = await read.ExecuteReaderAsync(cancellationToken);
            DateTimeOffset minute = DateTimeOffset.MinValue;
            int offers = 0, inFlight = 0;
            do
            {
                // the insert yields no columns; the budget row yields two, the in-flight count one
                if (reader.FieldCount == 2 && await reader.ReadAsync(cancellationToken))
                {
                    minute = Minute(reader.GetFieldValue<DateTime>(0));
                    offers = reader.GetInt32(1);
                }
                else if (reader.FieldCount == 1 && await reader.ReadAsync(cancellationToken))
                {
                    inFlight = reader.GetInt32(0);
                }
            }
            while (await reader.NextResultAsync(cancellationToken));

            usage = new PaceUsage(minute, offers, inFlight);
        }

        var decision = pace.Decide(usage, now);
        if (!decision.Admitted)
        {
            return decision; // rolled back on dispose
        }

        await using (var write = new NpgsqlBatch(connection, transaction))
        {
            var spend = new NpgsqlBatchCommand("update rollout_pace set minute = $2, offers = $3 where rollout_id = $1");
            spend.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
            spend.Parameters.Add(new NpgsqlParameter<DateTime> { TypedValue = decision.After.Minute.UtcDateTime });
            spend.Parameters.Add(new NpgsqlParameter<int> { TypedValue = decision.After.OffersInMinute });
            write.BatchCommands.Add(spend);
            var offer = new NpgsqlBatchCommand(DeviceStore.RecordOfferSql);
            offer.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
            offer.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
            offer.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version });
            offer.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fromVersion });
            write.BatchCommands.Add(offer);
            await write.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return decision;
    }

    public async Task<PaceUsage> ReadUsageAsync(long rolloutId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            select p.minute, coalesce(p.offers, 0), h.in_flight
            from rollout_health h left join rollout_pace p on p.rollout_id = h.rollout_id
            where h.rollout_id = $1
            """);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return PaceUsage.Unused;
        }

        return new PaceUsage(reader.IsDBNull(0) ? DateTimeOffset.MinValue : Minute(reader.GetFieldValue<DateTime>(0)), reader.GetInt32(1), reader.GetInt32(2));
    }

    // '-infinity' (never spent) reads as DateTime.MinValue
    private static DateTimeOffset Minute(DateTime stored) =>
        stored == DateTime.MinValue ? DateTimeOffset.MinValue : new DateTimeOffset(DateTime.SpecifyKind(stored, DateTimeKind.Utc));

    private static NpgsqlBatchCommand Command(string sql, long rolloutId)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
        return command;
    }
}

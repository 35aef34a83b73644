using Npgsql;
using NpgsqlTypes;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>One transaction per device update event: the device row is locked, writes are queued and
/// sent together with the COMMIT in one batch, so a status report costs two round trips (BEGIN + lock,
/// writes + COMMIT) and lands whole or not at all. The transaction is opened and ended with plain SQL
/// for that reason; a session not committed is rolled back when disposed.</summary>
public sealed class UpdateLedger(NpgsqlDataSource dataSource) : IUpdateLedger
{
    private const string LockDeviceSql = """
        select device_id, device_model, current_firmware_version, offered_rollout_id, offered_version,
               update_rollout_id, update_target_version, update_from_version, update_status, update_progress
        from devices where device_id = $1
        for update
        """;

    public async Task<IUpdateLedgerSession> OpenAsync(string deviceId, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            DeviceUpdateState? state = null;
            await using (var open = new NpgsqlBatch(connection))
            {
                open.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
                var select = new NpgsqlBatchCommand(LockDeviceSql);
                select.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
                open.BatchCommands.Add(select);
                await using var reader = await open.ExecuteReaderAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken))
                {
                    state = new DeviceUpdateState(
                        reader.GetString(0), reader.GetString(1), reader.GetString(2),
                        reader.IsDBNull(3) ? null : reader.GetInt64(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        DeviceStore.ReadAttempt(reader, 5));
                }
            }

            return new Session(connection, state);
        }
        catch
        {
            await connection.DisposeAsync(); // the pool rolls back an open transaction
            throw;
        }
    }

    private sealed class Session(NpgsqlConnection connection, DeviceUpdateState? device) : IUpdateLedgerSession
    {
        private readonly List<NpgsqlBatchCommand> _pending = [];
        private bool _committed;

        public DeviceUpdateState? Device { get; } = device;

        public void AppendHistory(StatusEntry entry)
        {
            var command = new NpgsqlBatchCommand("""
                insert into device_update_status (device_id, firmware_version, status, progress_percent, error_message, rollout_id, source)
                values ($1, $2, $3, $4, $5, $6, $7)
                """);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.DeviceId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.FirmwareVersion });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.Status.ToWire() });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = entry.Progress });
            command.Parameters.Add(DeviceStore.Nullable(entry.ErrorMessage, NpgsqlDbType.Text));
            command.Parameters.Add(DeviceStore.Nullable(entry.RolloutId, NpgsqlDbType.Bigint));
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = entry.FromDevice ? "device" : "server" });
            _pending.Add(command);
        }

        public void SaveAttempt(string deviceId, long? rolloutId, UpdateAttempt attempt, bool startsAttempt)
        {
            var device = new NpgsqlBatchCommand("""
                update devices
                   set update_rollout_id = $2, update_target_version = $3, update_from_version = $4,
                       update_status = $5, update_progress = $6, update_changed_at = now()
                 where device_id = $1
                """);
            device.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
            device.Parameters.Add(DeviceStore.Nullable(rolloutId, NpgsqlDbType.Bigint));
            device.Parameters.Add(new NpgsqlParameter<string> { TypedValue = attempt.TargetVersion });
            device.Parameters.Add(DeviceStore.Nullable(attempt.FromVersion, NpgsqlDbType.Text));
            device.Parameters.Add(new NpgsqlParameter<string> { TypedValue = attempt.Status.ToWire() });
            device.Parameters.Add(new NpgsqlParameter<int> { TypedValue = attempt.Progress });
            _pending.Add(device);
            if (rolloutId is not { } id)
            {
                return;
            }

            var outcome = new NpgsqlBatchCommand("""
                insert into rollout_devices as rd (rollout_id, device_id, from_version, status, progress, attempts, updated_at)
                values ($1, $2, $3, $4, $5, $6, now())
                on conflict (rollout_id, device_id) do update
                   set status = excluded.status,
                       progress = excluded.progress,
                       attempts = rd.attempts + excluded.attempts,
                       from_version = coalesce(rd.from_version, excluded.from_version),
                       updated_at = now()
                """);
            outcome.Parameters.Add(new NpgsqlParameter<long> { TypedValue = id });
            outcome.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
            outcome.Parameters.Add(DeviceStore.Nullable(attempt.FromVersion, NpgsqlDbType.Text));
            outcome.Parameters.Add(new NpgsqlParameter<string> { TypedValue = attempt.Status.ToWire() });
            outcome.Parameters.Add(new NpgsqlParameter<int> { TypedValue = attempt.Progress });
            outcome.Parameters.Add(new NpgsqlParameter<int> { TypedValue = startsAttempt ? 1 : 0 });
            _pending.Add(outcome);
        }

        public async Task<RolloutCounts> CountAsync(long rolloutId, CancellationToken cancellationToken)
        {
            await FlushAsync(cancellationToken);
            await using var command = new NpgsqlCommand("""
                select count(*) filter (where status <> 'offered')::int,
                       count(*) filter (where status = 'failed')::int,
                       count(*) filter (where status = 'rolled_back')::int
                from rollout_devices where rollout_id = $1
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            await reader.ReadAsync(cancellationToken);
            return new RolloutCounts(reader.GetInt32(0), reader.GetInt32(1), reader.GetInt32(2));
        }

        public async Task<bool> HaltAsync(long rolloutId, string reason, string detailsJson, CancellationToken cancellationToken)
        {
            await FlushAsync(cancellationToken);
            await using var command = new NpgsqlCommand("""
                with halted as (
                    update rollouts
                       set is_active = false, pause_reason = $2, halted_at = now(), halt_details = $3::jsonb, updated_at = now()
                     where id = $1 and halted_at is null
                    returning name
                )
                insert into audit_log (actor, action, target, outcome, details)
                select 'system', 'rollout.halt', name, 'halted', $3::jsonb || jsonb_build_object('reason', $2::text) from halted
                """, connection);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reason });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = detailsJson });
            return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        }

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            _pending.Add(new NpgsqlBatchCommand("commit"));
            await FlushAsync(cancellationToken);
            _committed = true;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_committed && connection.State == System.Data.ConnectionState.Open)
                {
                    await using var rollback = new NpgsqlCommand("rollback", connection);
                    await rollback.ExecuteNonQueryAsync();
                }
            }
            catch (NpgsqlException)
            {
                // the connection is broken; closing it below discards the transaction with it
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }

        private async Task FlushAsync(CancellationToken cancellationToken)
        {
            if (_pending.Count == 0)
            {
                return;
            }

            await using var batch = new NpgsqlBatch(connection);
            foreach (var command in _pending)
            {
                batch.BatchCommands.Add(command);
            }

            _pending.Clear();
            await batch.ExecuteNonQueryAsync(cancellationToken);
        }
    }
}

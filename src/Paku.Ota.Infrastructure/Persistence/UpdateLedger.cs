using System.Threading.Channels;
using Npgsql;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class UpdateLedgerOptions
{
    /// <summary>Most sessions (device update events) sharing one transaction.</summary>
    public int MaxGroup { get; set; } = 64;

    /// <summary>Transactions in flight at once.</summary>
    public int Groups { get; set; } = 2;
}

/// <summary>Group commit for device update events (status reports, confirmations, rollbacks). It only
/// writes: judging a rollout's health happens after the commit, outside the shared transaction
/// (<c>RolloutHealthMonitor</c>).
/// <para>The sessions opened while a transaction is in flight share the next one: their devices are
/// locked by one statement (in a fixed order, so concurrent groups and check-in batches cannot
/// deadlock), each handler decides on its own device's locked state as before, and when every session
/// of the group has committed or given up, all their writes go to PostgreSQL as one multi-row batch
/// with the COMMIT. Nothing is sent into the shared transaction ahead of the COMMIT, so a session that
/// gives up takes nothing of the others with it. No request waits for a timer: a lone report is a group
/// of one and costs what it always did (BEGIN + lock, writes + COMMIT); under load the cost of the round trips, statements and
/// WAL flush is shared by the group.</para>
/// <para>A session's <see cref="IUpdateLedgerSession.CommitAsync"/> returns only after the COMMIT,
/// so no report is acknowledged before it is durable. A device appears at most once per group (a
/// second event for it waits for the next group, as it would have waited for the row lock). One
/// member cannot fail the others: when PostgreSQL refuses a session's writes, that session alone gets
/// <see cref="UpdateRefusedException"/> and the rest of the group is committed without it. When the
/// transaction itself is lost (the connection breaks), every session that committed into it gets the
/// error and nothing of the group is stored.</para></summary>
public sealed class UpdateLedger : IUpdateLedger, IAsyncDisposable
{
    private const string LockDevicesSql = """
        select device_id, device_model, current_firmware_version, offered_rollout_id, offered_version,
               update_rollout_id, update_target_version, update_from_version, update_status, update_progress, update_changed_at
        from devices where device_id = any($1)
        order by device_id collate "C"
        for update
        """;

    private const string HistorySql = """
        insert into device_update_status (device_id, firmware_version, status, progress_percent, error_message, rollout_id, source)
        select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[], $7::text[])
        """;

    private const string AttemptsSql = """
        update devices d
           set update_rollout_id = u.rollout_id, update_target_version = u.target_version, update_from_version = u.from_version,
               update_status = u.status, update_progress = u.progress, update_changed_at = now()
          from unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::int[])
               as u(device_id, rollout_id, target_version, from_version, status, progress)
         where d.device_id = u.device_id
        """;

    private const string OutcomesSql = """
        insert into rollout_devices as rd (rollout_id, device_id, from_version, status, progress, attempts, updated_at)
        select u.rollout_id, u.device_id, u.from_version, u.status, u.progress, u.attempts, now()
          from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[])
               as u(rollout_id, device_id, from_version, status, progress, attempts)
        on conflict (rollout_id, device_id) do update
           set status = excluded.status,
               progress = excluded.progress,
               attempts = rd.attempts + excluded.attempts,
               from_version = coalesce(rd.from_version, excluded.from_version),
               updated_at = now()
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly UpdateLedgerOptions _options;
    private readonly Channel<Opening> _queue = Channel.CreateUnbounded<Opening>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _loops;

    public UpdateLedger(NpgsqlDataSource dataSource, UpdateLedgerOptions options)
    {
        _dataSource = dataSource;
        _options = options;
        _loops = Enumerable.Range(0, Math.Max(1, options.Groups)).Select(_ => Task.Run(GroupLoopAsync)).ToArray();
    }

    /// <summary>Waits for the group that takes this device. The wait is not cancelled with the
    /// request: a session handed out is always disposed by its caller, so the group is never left
    /// waiting for a session nobody holds.</summary>
    public Task<IUpdateLedgerSession> OpenAsync(string deviceId, CancellationToken cancellationToken)
    {
        var opening = new Opening(deviceId);
        if (!_queue.Writer.TryWrite(opening))
        {
            throw new ObjectDisposedException(nameof(UpdateLedger));
        }

        return opening.Opened.Task;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_loops);
    }

    private async Task GroupLoopAsync()
    {
        var maximum = Math.Max(1, _options.MaxGroup);
        var deferred = new List<Opening>();
        while (deferred.Count > 0 || await _queue.Reader.WaitToReadAsync())
        {
            var group = new List<Opening>(Math.Min(maximum, 16));
            var devices = new HashSet<string>(StringComparer.Ordinal);
            var waiting = deferred;
            deferred = [];
            foreach (var opening in waiting)
            {
                (group.Count < maximum && devices.Add(opening.DeviceId) ? group : deferred).Add(opening);
            }

            while (group.Count < maximum && _queue.Reader.TryRead(out var next))
            {
                (devices.Add(next.DeviceId) ? group : deferred).Add(next);
            }

            // another loop may have taken what woke this one
            if (group.Count == 0)
            {
                continue;
            }

            try
            {
                await RunGroupAsync(group);
            }
            catch (Exception e)
            {
                // the loop must outlive any one group, or every later report would wait forever
                foreach (var opening in group)
                {
                    opening.Opened.TrySetException(e);
                }
            }
        }
    }

    private async Task RunGroupAsync(List<Opening> openings)
    {
        NpgsqlConnection? connection = null;
        Group group;
        try
        {
            connection = await _dataSource.OpenConnectionAsync();
            var states = await LockAsync(connection, openings);
            group = new Group(connection, openings.Count);
            foreach (var opening in openings)
            {
                opening.Opened.TrySetResult(new Session(group, states.GetValueOrDefault(opening.DeviceId)));
            }
        }
        catch (Exception e)
        {
            foreach (var opening in openings)
            {
                opening.Opened.TrySetException(e);
            }

            // PostgreSQL is unreachable: what queued meanwhile would wait a connect timeout per group
            // only to fail the same way, so it is answered now (503, the devices retry later)
            while (DatabaseUnavailable.Is(e) && _queue.Reader.TryRead(out var queued))
            {
                queued.Opened.TrySetException(e);
            }

            if (connection is not null)
            {
                await connection.DisposeAsync(); // the pool rolls back an open transaction
            }

            return;
        }

        await using (connection)
        {
            await group.AllFinished;
            await group.EndAsync();
        }
    }

    private static async Task<Dictionary<string, DeviceUpdateState>> LockAsync(NpgsqlConnection connection, List<Opening> openings)
    {
        var states = new Dictionary<string, DeviceUpdateState>(openings.Count, StringComparer.Ordinal);
        await using var open = new NpgsqlBatch(connection);
        open.BatchCommands.Add(new NpgsqlBatchCommand("begin"));
        var select = new NpgsqlBatchCommand(LockDevicesSql);
        select.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = openings.Select(o => o.DeviceId).ToArray() });
        open.BatchCommands.Add(select);
        await using var reader = await open.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var state = new DeviceUpdateState(
                reader.GetString(0), reader.GetString(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt64(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                DeviceStore.ReadAttempt(reader, 5),
                reader.IsDBNull(10) ? null : new DateTimeOffset(reader.GetDateTime(10), TimeSpan.Zero));
            states[state.DeviceId] = state;
        }

        return states;
    }

    private sealed class Opening(string deviceId)
    {
        public string DeviceId { get; } = deviceId;

        public TaskCompletionSource<IUpdateLedgerSession> Opened { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed record Save(string DeviceId, long? RolloutId, UpdateAttempt Attempt, bool StartsAttempt);

    /// <summary>One transaction and the sessions in it.</summary>
    private sealed class Group(NpgsqlConnection connection, int size)
    {
        private readonly TaskCompletionSource _allFinished = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<Session> _committing = [];
        private readonly Dictionary<Session, Exception> _failed = [];
        private int _finished;

        public NpgsqlConnection Connection { get; } = connection;

        public Task AllFinished => _allFinished.Task;

        public Task Committed => _committed.Task;

        public void Finish(Session session, bool commit)
        {
            lock (_committing)
            {
                if (commit)
                {
                    _committing.Add(session);
                }

                if (++_finished == size)
                {
                    _allFinished.TrySetResult();
                }
            }
        }

        /// <summary>Whether <paramref name="session"/> was left out of the commit, and why.</summary>
        public Exception? FailureOf(Session session) => _failed.GetValueOrDefault(session);

        /// <summary>Writes what the committed sessions queued, in one batch with the COMMIT. When PostgreSQL
        /// refuses any of it, the group goes back to the savepoint taken before the writes (its row locks
        /// stay held) and writes each session on its own, so that only the session whose writes were
        /// refused fails and the others are committed as decided.</summary>
        public async Task EndAsync()
        {
            try
            {
                try
                {
                    await using var batch = new NpgsqlBatch(Connection);
                    batch.BatchCommands.Add(new NpgsqlBatchCommand("savepoint group_writes"));
                    AddWrites(batch, _committing.SelectMany(s => s.History).ToList(), _committing.SelectMany(s => s.Saves).ToList());
                    batch.BatchCommands.Add(new NpgsqlBatchCommand(_committing.Count == 0 ? "rollback" : "commit"));
                    await batch.ExecuteNonQueryAsync();
                }
                catch (PostgresException e) when (RefusesOnlyItsData(e))
                {
                    await ExecuteAsync("rollback to savepoint group_writes");
                    await WriteOneByOneAsync();
                }

                _committed.TrySetResult();
            }
            catch (Exception e)
            {
                _committed.TrySetException(e);
            }
        }

        private async Task WriteOneByOneAsync()
        {
            foreach (var session in _committing)
            {
                try
                {
                    await using var batch = new NpgsqlBatch(Connection);
                    batch.BatchCommands.Add(new NpgsqlBatchCommand("savepoint session_writes"));
                    AddWrites(batch, session.History, session.Saves);
                    batch.BatchCommands.Add(new NpgsqlBatchCommand("release savepoint session_writes"));
                    await batch.ExecuteNonQueryAsync();
                }
                catch (PostgresException e) when (RefusesOnlyItsData(e))
                {
                    await ExecuteAsync("rollback to savepoint session_writes");
                    _failed[session] = e;
                }
            }

            await ExecuteAsync(_failed.Count == _committing.Count ? "rollback" : "commit");
        }

        /// <summary>Whether PostgreSQL refused what was written (a value it cannot store, a broken
        /// constraint: SQLSTATE classes 22 and 23), so that the same writes would fail again and the
        /// others' need not. Anything else (the server going away, a lost connection) fails the group.</summary>
        public static bool RefusesOnlyItsData(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);

        public async Task ExecuteAsync(string sql)
        {
            await using var command = new NpgsqlCommand(sql, Connection);
            await command.ExecuteNonQueryAsync();
        }

        public static void AddWrites(NpgsqlBatch batch, List<StatusEntry> history, List<Save> saves)
        {
            if (history.Count > 0)
            {
                var command = new NpgsqlBatchCommand(HistorySql);
                command.Parameters.Add(Column(history, e => e.DeviceId));
                command.Parameters.Add(Column(history, e => e.FirmwareVersion));
                command.Parameters.Add(Column(history, e => e.Status.ToWire()));
                command.Parameters.Add(Column(history, e => e.Progress));
                command.Parameters.Add(Column(history, e => e.ErrorMessage));
                command.Parameters.Add(Column(history, e => e.RolloutId));
                command.Parameters.Add(Column(history, e => e.FromDevice ? "device" : "server"));
                batch.BatchCommands.Add(command);
            }

            // one statement may touch a row once; a device has one save per group unless a session
            // saved twice, and then the saves are sent one by one, in order
            var distinct = saves.Select(s => s.DeviceId).Distinct(StringComparer.Ordinal).Count() == saves.Count;
            var chunks = distinct ? new List<List<Save>> { saves } : saves.Select(s => new List<Save> { s }).ToList();
            foreach (var chunk in chunks)
            {
                if (chunk.Count == 0)
                {
                    continue;
                }

                var attempts = new NpgsqlBatchCommand(AttemptsSql);
                attempts.Parameters.Add(Column(chunk, s => s.DeviceId));
                attempts.Parameters.Add(Column(chunk, s => s.RolloutId));
                attempts.Parameters.Add(Column(chunk, s => s.Attempt.TargetVersion));
                attempts.Parameters.Add(Column(chunk, s => s.Attempt.FromVersion));
                attempts.Parameters.Add(Column(chunk, s => s.Attempt.Status.ToWire()));
                attempts.Parameters.Add(Column(chunk, s => s.Attempt.Progress));
                batch.BatchCommands.Add(attempts);

                var counted = chunk.Where(s => s.RolloutId is not null).ToList();
                if (counted.Count == 0)
                {
                    continue;
                }

                var outcomes = new NpgsqlBatchCommand(OutcomesSql);
                outcomes.Parameters.Add(Column(counted, s => s.RolloutId!.Value));
                outcomes.Parameters.Add(Column(counted, s => s.DeviceId));
                outcomes.Parameters.Add(Column(counted, s => s.Attempt.FromVersion));
                outcomes.Parameters.Add(Column(counted, s => s.Attempt.Status.ToWire()));
                outcomes.Parameters.Add(Column(counted, s => s.Attempt.Progress));
                outcomes.Parameters.Add(Column(counted, s => s.StartsAttempt ? 1 : 0));
                batch.BatchCommands.Add(outcomes);
            }
        }

        private static NpgsqlParameter<T[]> Column<TItem, T>(List<TItem> items, Func<TItem, T> value)
        {
            var values = new T[items.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = value(items[i]);
            }

            return new NpgsqlParameter<T[]> { TypedValue = values };
        }
    }

    private sealed class Session(Group group, DeviceUpdateState? device) : IUpdateLedgerSession
    {
        private bool _finished;

        public DeviceUpdateState? Device { get; } = device;

        public List<StatusEntry> History { get; } = [];

        public List<Save> Saves { get; } = [];

        public void AppendHistory(StatusEntry entry) => History.Add(entry);

        public void SaveAttempt(string deviceId, long? rolloutId, UpdateAttempt attempt, bool startsAttempt) =>
            Saves.Add(new Save(deviceId, rolloutId, attempt, startsAttempt));

        public async Task CommitAsync(CancellationToken cancellationToken)
        {
            if (_finished)
            {
                throw new InvalidOperationException("The update session has already ended.");
            }

            _finished = true;
            group.Finish(this, commit: true);
            await group.Committed;
            if (group.FailureOf(this) is { } failure)
            {
                throw new UpdateRefusedException("PostgreSQL refused this update event's writes; nothing of it was stored.", failure);
            }
        }

        public ValueTask DisposeAsync()
        {
            if (!_finished)
            {
                _finished = true;
                group.Finish(this, commit: false);
            }

            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>PostgreSQL refused the writes of this one update event (the others of its group were
/// stored); retrying it unchanged will not help.</summary>
public sealed class UpdateRefusedException(string message, Exception inner) : Exception(message, inner);

using System.Threading.Channels;
using Npgsql;
using Paku.Ota.Application.Updates;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class CheckInBatchOptions
{
    /// <summary>Send concurrent device check-ins to PostgreSQL as one multi-row upsert.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Most check-ins in one statement.</summary>
    public int MaxBatch { get; set; } = 256;

    /// <summary>Statements in flight at once.</summary>
    public int Writers { get; set; } = 2;
}

/// <summary>Coalesces the check-ins that arrive while a statement is in flight into one multi-row
/// upsert. No request waits for a timer: a lone check-in is written at once, and under load each
/// statement carries everything that queued meanwhile, which spares PostgreSQL a statement, a commit
/// and a WAL flush per device. A check is answered only after its statement committed, so a
/// registration is durable before the device hears back.</summary>
public sealed class CheckInBatcher : IAsyncDisposable
{
    private const string BatchSql = """
        insert into devices as d (device_id, device_model, current_firmware_version)
        select * from unnest($1::text[], $2::text[], $3::text[])
        on conflict (device_id) do update
           set device_model = excluded.device_model,
               current_firmware_version = excluded.current_firmware_version,
               last_seen = now()
        returning
           d.device_id,
           case when jsonb_typeof(d.metadata -> 'groups') = 'array'
                then array(select jsonb_array_elements_text(d.metadata -> 'groups')) end,
           d.offered_rollout_id, d.offered_version,
           d.update_rollout_id, d.update_target_version, d.update_from_version, d.update_status, d.update_progress
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly CheckInBatchOptions _options;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _writers;

    public CheckInBatcher(NpgsqlDataSource dataSource, CheckInBatchOptions options)
    {
        _dataSource = dataSource;
        _options = options;
        _writers = Enumerable.Range(0, Math.Max(1, options.Writers)).Select(_ => Task.Run(WriteLoopAsync)).ToArray();
    }

    public Task<DeviceCheckIn> CheckInAsync(string deviceId, string model, string currentVersion, CancellationToken cancellationToken)
    {
        var pending = new Pending(deviceId, model, currentVersion);
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(CheckInBatcher));
        }

        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_writers);
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>(_options.MaxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _options.MaxBatch && _queue.Reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count > 0)
            {
                await WriteAsync(batch);
            }
        }
    }

    private async Task WriteAsync(List<Pending> batch)
    {
        // A statement may touch a row once: the last check-in of a device in the batch wins, and every
        // waiter of that device gets the same answer.
        var byDevice = new Dictionary<string, List<Pending>>(batch.Count, StringComparer.Ordinal);
        var latest = new Dictionary<string, Pending>(batch.Count, StringComparer.Ordinal);
        foreach (var item in batch)
        {
            if (!byDevice.TryGetValue(item.DeviceId, out var waiters))
            {
                byDevice[item.DeviceId] = waiters = new List<Pending>(1);
            }

            waiters.Add(item);
            latest[item.DeviceId] = item;
        }

        var ids = new string[latest.Count];
        var models = new string[latest.Count];
        var versions = new string[latest.Count];
        var i = 0;

        // Rows are locked in array order; two statements in flight must take their locks in the same
        // order, or they can deadlock on devices they share.
        foreach (var item in latest.Values.OrderBy(p => p.DeviceId, StringComparer.Ordinal))
        {
            ids[i] = item.DeviceId;
            models[i] = item.Model;
            versions[i] = item.Version;
            i++;
        }

        try
        {
            await using var command = _dataSource.CreateCommand(BatchSql);
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ids });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = models });
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = versions });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                var id = reader.GetString(0);
                var result = new DeviceCheckIn(
                    reader.IsDBNull(1) ? [] : reader.GetFieldValue<string[]>(1),
                    reader.IsDBNull(2) ? null : reader.GetInt64(2),
                    reader.IsDBNull(3) ? null : reader.GetString(3),
                    DeviceStore.ReadAttempt(reader, 4));
                if (byDevice.Remove(id, out var waiters))
                {
                    foreach (var waiter in waiters)
                    {
                        waiter.Done.TrySetResult(result);
                    }
                }
            }

            foreach (var waiters in byDevice.Values)
            {
                foreach (var waiter in waiters)
                {
                    waiter.Done.TrySetException(new InvalidOperationException($"The check-in of device '{waiter.DeviceId}' returned no row."));
                }
            }
        }
        catch (Exception e)
        {
            foreach (var item in batch)
            {
                item.Done.TrySetException(e);
            }
        }
    }

    private sealed class Pending(string deviceId, string model, string version)
    {
        public string DeviceId { get; } = deviceId;

        public string Model { get; } = model;

        public string Version { get; } = version;

        public TaskCompletionSource<DeviceCheckIn> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

using Npgsql;
using NpgsqlTypes;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>The device rows as the device check uses them. Plain Npgsql with positional parameters
/// on this path: it runs for every check of every device.</summary>
public sealed class DeviceStore(NpgsqlDataSource dataSource, CheckInBatcher? batcher = null) : IDeviceStore
{
    // One statement: register or refresh the device, and return what targeting and the lifecycle need.
    private const string CheckInSql = """
        insert into devices as d (device_id, device_model, current_firmware_version)
        values ($1, $2, $3)
        on conflict (device_id) do update
           set device_model = excluded.device_model,
               current_firmware_version = excluded.current_firmware_version,
               last_seen = now()
        returning
           case when jsonb_typeof(d.metadata -> 'groups') = 'array'
                then array(select jsonb_array_elements_text(d.metadata -> 'groups')) end,
           d.offered_rollout_id, d.offered_version,
           d.update_rollout_id, d.update_target_version, d.update_from_version, d.update_status, d.update_progress
        """;

    internal const string RecordOfferSql = """
        with offer as (
            update devices set offered_rollout_id = $2, offered_version = $3, offered_at = now()
            where device_id = $1
        )
        insert into rollout_devices (rollout_id, device_id, from_version)
        values ($2, $1, $4)
        on conflict (rollout_id, device_id) do nothing
        """;

    public Task<DeviceCheckIn> CheckInAsync(string deviceId, string model, string currentVersion, CancellationToken cancellationToken) =>
        batcher is not null
            ? batcher.CheckInAsync(deviceId, model, currentVersion, cancellationToken)
            : CheckInAloneAsync(deviceId, model, currentVersion, cancellationToken);

    private async Task<DeviceCheckIn> CheckInAloneAsync(string deviceId, string model, string currentVersion, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(CheckInSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = model });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = currentVersion });
        await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SingleRow, cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var groups = reader.IsDBNull(0) ? [] : reader.GetFieldValue<string[]>(0);
        var offeredRollout = reader.IsDBNull(1) ? (long?)null : reader.GetInt64(1);
        var offeredVersion = reader.IsDBNull(2) ? null : reader.GetString(2);
        var attempt = ReadAttempt(reader, 3);
        return new DeviceCheckIn(groups, offeredRollout, offeredVersion, attempt);
    }

    public async Task RecordOfferAsync(string deviceId, long rolloutId, string version, string fromVersion, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RecordOfferSql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = rolloutId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = version });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = fromVersion });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<string?> FindModelAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select device_model from devices where device_id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = deviceId });
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    /// <summary>Reads the five attempt columns starting at <paramref name="first"/>:
    /// rollout id, target version, from version, status, progress.</summary>
    internal static StoredAttempt? ReadAttempt(NpgsqlDataReader reader, int first)
    {
        if (reader.IsDBNull(first + 1) || reader.IsDBNull(first + 3) || !UpdateStatuses.TryParse(reader.GetString(first + 3), out var status))
        {
            return null;
        }

        var attempt = new UpdateAttempt(
            reader.GetString(first + 1),
            reader.IsDBNull(first + 2) ? null : reader.GetString(first + 2),
            status,
            reader.IsDBNull(first + 4) ? 0 : reader.GetInt32(first + 4));
        return new StoredAttempt(reader.IsDBNull(first) ? null : reader.GetInt64(first), attempt);
    }

    internal static NpgsqlParameter Nullable<T>(T? value, NpgsqlDbType type) =>
        new() { Value = (object?)value ?? DBNull.Value, NpgsqlDbType = type };
}

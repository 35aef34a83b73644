using Dapper;
using Npgsql;
using Paku.Ota.Application.Devices.Blocking;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class DeviceBlockStore(NpgsqlDataSource dataSource) : IDeviceBlockStore
{
    public async Task<DeviceBlock> BlockAsync(string deviceId, string reason, string actor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<Row>(new CommandDefinition("""
            insert into device_blocks (device_id, reason, blocked_by) values (@deviceId, @reason, @actor)
            on conflict (device_id) do update set reason = excluded.reason, blocked_by = excluded.blocked_by, blocked_at = now()
            returning device_id, reason, blocked_by, blocked_at
            """, new { deviceId, reason, actor }, cancellationToken: cancellationToken));
        return ToBlock(row);
    }

    public async Task<bool> UnblockAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteAsync(new CommandDefinition(
            "delete from device_blocks where device_id = @deviceId", new { deviceId }, cancellationToken: cancellationToken)) == 1;
    }

    /// <summary>Every block, for the catalog snapshot (read inside its transaction).</summary>
    internal static async Task<IReadOnlyList<DeviceBlock>> ReadAllAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken) =>
        [.. (await connection.QueryAsync<Row>(new CommandDefinition(
            "select device_id, reason, blocked_by, blocked_at from device_blocks", transaction: transaction, cancellationToken: cancellationToken))).Select(ToBlock)];

    private static DeviceBlock ToBlock(Row r) => new(r.device_id, r.reason, r.blocked_by, new DateTimeOffset(DateTime.SpecifyKind(r.blocked_at, DateTimeKind.Utc)));

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record Row(string device_id, string reason, string blocked_by, DateTime blocked_at);
#pragma warning restore IDE1006, SA1300
}

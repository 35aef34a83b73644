using System.Text.Json;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Devices;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Devices as operators see them, and their groups. Groups live in <c>metadata-&gt;'groups'</c>
/// and are written with jsonb_set, exactly as the seed's SQL does, so both keep working side by side.</summary>
public sealed class DeviceAdminStore(NpgsqlDataSource dataSource) : IDeviceAdminStore
{
    // The same reading of metadata->'groups' as the device check's (DeviceStore): the array's elements as
    // text, anything but an array is no groups. Sent as JSON text, which Dapper maps without fuss.
    private const string SelectDevices = """
        select d.device_id, d.device_model, d.current_firmware_version,
               case when jsonb_typeof(d.metadata -> 'groups') = 'array'
                    then (select jsonb_agg(g) from jsonb_array_elements_text(d.metadata -> 'groups') g)::text end as groups,
               d.first_seen, d.last_seen,
               r.name as update_rollout, d.update_target_version, d.update_from_version, d.update_status,
               d.update_progress, d.update_changed_at,
               b.reason as blocked_reason, b.blocked_by, b.blocked_at
        from devices d
        left join rollouts r on r.id = d.update_rollout_id
        left join device_blocks b on b.device_id = d.device_id
        """;

    private const string Matching = """
        where (@model::text is null or d.device_model = @model)
          and (@group::text is null or d.metadata -> 'groups' @> jsonb_build_array(@group::text))
          and (@version::text is null or ota_semver_key(d.current_firmware_version) = ota_semver_key(@version))
          and (@search::text is null or strpos(lower(d.device_id), lower(@search)) > 0)
          and (not @byStatus or (cardinality(@statuses) = 0 and d.update_status is null) or d.update_status = any(@statuses))
        """;

    // Enough ids to act on; the count says how many more there are.
    private const int ReportedUnknown = 20;

    public async Task<DevicePage> ListAsync(DeviceFilter filter, CancellationToken cancellationToken)
    {
        var parameters = new { model = filter.Model, group = filter.Group, version = filter.Version, search = filter.Search, byStatus = filter.Statuses is not null, statuses = (filter.Statuses ?? []).ToArray(), limit = filter.Limit, offset = filter.Offset };
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var rows = await connection.QueryAsync<DeviceRow>(new CommandDefinition(
            $"{SelectDevices}\n{Matching}\norder by d.device_id\nlimit @limit offset @offset", parameters, transaction, cancellationToken: cancellationToken));
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"select count(*) from devices d\n{Matching}", parameters, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return new DevicePage([.. rows.Select(ToView)], total);
    }

    public async Task<DeviceView?> GetAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<DeviceRow>(new CommandDefinition(
            $"{SelectDevices}\nwhere d.device_id = @deviceId", new { deviceId }, cancellationToken: cancellationToken));
        return row is null ? null : ToView(row);
    }

    public async Task<DeviceOfferView?> LastOfferAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<OfferRow>(new CommandDefinition("""
            select r.name as rollout, d.offered_version, d.offered_at
            from devices d
            left join rollouts r on r.id = d.offered_rollout_id
            where d.device_id = @deviceId and d.offered_version is not null
            """, new { deviceId }, cancellationToken: cancellationToken));
        return row is null ? null : new DeviceOfferView(row.rollout, row.offered_version, Utc(row.offered_at));
    }

    public async Task<IReadOnlyList<DeviceRolloutView>> RolloutsOfAsync(string deviceId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<RolloutRow>(new CommandDefinition("""
            select r.name, r.firmware_version, rd.status, rd.progress, rd.attempts, rd.from_version, rd.offered_at, rd.updated_at
            from rollout_devices rd
            join rollouts r on r.id = rd.rollout_id
            where rd.device_id = @deviceId
            order by rd.offered_at desc, r.id desc
            """, new { deviceId }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new DeviceRolloutView(
            r.name, r.firmware_version, r.status, r.progress, r.attempts, r.from_version, Utc(r.offered_at), Utc(r.updated_at)))];
    }

    public async Task<bool> SetGroupsAsync(string deviceId, IReadOnlyList<string> groups, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var updated = await connection.ExecuteAsync(new CommandDefinition("""
            update devices
               set metadata = jsonb_set(coalesce(metadata, '{}'::jsonb), '{groups}', @groups::jsonb)
             where device_id = @deviceId
            """, new { deviceId, groups = JsonSerializer.Serialize(groups) }, cancellationToken: cancellationToken));
        return updated == 1;
    }

    public async Task<UnknownDevices?> SetGroupsAsync(IReadOnlyDictionary<string, IReadOnlyList<string>> groupsByDevice, CancellationToken cancellationToken)
    {
        var assignments = JsonSerializer.Serialize(groupsByDevice);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // One statement updates every listed device that exists and returns the ids that do not; when there
        // are any, the transaction is rolled back, so either every device changes or none does.
        var unknown = (await connection.QueryAsync<string>(new CommandDefinition("""
            with assignment as (
                select key as device_id, value as groups from jsonb_each(@assignments::jsonb)
            ), updated as (
                update devices d
                   set metadata = jsonb_set(coalesce(d.metadata, '{}'::jsonb), '{groups}', a.groups)
                  from assignment a
                 where d.device_id = a.device_id
                returning d.device_id
            )
            select a.device_id from assignment a
            where not exists (select 1 from updated u where u.device_id = a.device_id)
            order by a.device_id
            """, new { assignments }, transaction, cancellationToken: cancellationToken))).ToList();
        if (unknown.Count > 0)
        {
            await transaction.RollbackAsync(cancellationToken);
            return new UnknownDevices([.. unknown.Take(ReportedUnknown)], unknown.Count);
        }

        await transaction.CommitAsync(cancellationToken);
        return null;
    }

    private static DeviceView ToView(DeviceRow r) => new(
        r.device_id, r.device_model, r.current_firmware_version,
        r.groups is null ? [] : JsonSerializer.Deserialize<string[]>(r.groups) ?? [], Utc(r.first_seen), Utc(r.last_seen),
        r.update_target_version is null || r.update_status is null
            ? null
            : new DeviceUpdateView(r.update_rollout, r.update_target_version, r.update_from_version, r.update_status, r.update_progress ?? 0,
                r.update_changed_at is { } changed ? Utc(changed) : null),
        r.blocked_reason is null ? null : new DeviceBlockView(r.blocked_reason, r.blocked_by!, Utc(r.blocked_at!.Value)));

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DateTimeOffset? Utc(DateTime? value) => value is { } v ? Utc(v) : null;

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record DeviceRow(string device_id, string device_model, string current_firmware_version, string? groups,
        DateTime first_seen, DateTime last_seen, string? update_rollout, string? update_target_version, string? update_from_version,
        string? update_status, int? update_progress, DateTime? update_changed_at, string? blocked_reason, string? blocked_by, DateTime? blocked_at);

    private sealed record OfferRow(string? rollout, string offered_version, DateTime? offered_at);

    private sealed record RolloutRow(string name, string firmware_version, string status, int progress, int attempts, string? from_version,
        DateTime offered_at, DateTime updated_at);
#pragma warning restore IDE1006, SA1300
}

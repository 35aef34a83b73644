using System.Text.Json;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Reads every rollout, release (metadata only) and device block in one consistent snapshot.</summary>
public sealed class CatalogReader(NpgsqlDataSource dataSource)
{
    public async Task<long> ReadGenerationAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select generation from catalog_generation");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<CatalogSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var generation = await connection.ExecuteScalarAsync<long>(
            new CommandDefinition("select generation from catalog_generation", transaction: transaction, cancellationToken: cancellationToken));
        var releaseRows = await connection.QueryAsync<ReleaseRow>(new CommandDefinition("""
            select id, version, device_model, min_version, checksum_sha256, size_bytes, signature,
                   signature_algorithm, release_notes, withdrawn_at
            from firmware_releases
            """, transaction: transaction, cancellationToken: cancellationToken));
        var rolloutRows = await connection.QueryAsync<RolloutRow>(new CommandDefinition("""
            select id, name, release_id, device_model, target_type, target_filter::text as target_filter,
                   rollout_percentage, is_active, allow_downgrade, failure_threshold_percent,
                   failure_min_attempts, pause_reason, halted_at is not null as halted,
                   deadline_downloading_minutes, deadline_installing_minutes, deadline_success_minutes,
                   phase_plan::text as phase_plan, phase_index, phase_started_at, phase_held_by,
                   windows::text as windows, pace_per_minute, pace_max_in_flight
            from rollouts
            """, transaction: transaction, cancellationToken: cancellationToken));
        var blocks = await DeviceBlockStore.ReadAllAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var releases = releaseRows.Select(r => new CatalogRelease(
            r.id, r.device_model, FirmwareVersion.Parse(r.version),
            r.min_version is null ? null : FirmwareVersion.Parse(r.min_version),
            r.checksum_sha256, r.size_bytes, r.signature, r.signature_algorithm, r.release_notes,
            r.withdrawn_at is { } withdrawn ? new DateTimeOffset(withdrawn, TimeSpan.Zero) : null)).ToList();
        var byId = releases.ToDictionary(r => r.Id);
        var rollouts = rolloutRows.Select(r =>
        {
            var release = byId[r.release_id];
            TargetTypes.TryParse(r.target_type, out var type);
            var rollout = Rollout.Restore(r.name, r.device_model, release.Version, type, ParseFilter(r.target_filter), r.rollout_percentage,
                r.is_active, r.allow_downgrade, new FailureThreshold(r.failure_threshold_percent, r.failure_min_attempts), r.pause_reason, r.halted,
                AttemptDeadline.FromMinutes(r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes),
                PhasePlanJson.Phasing(r.phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by),
                windows: WindowsJson.Read(r.windows), pace: new Pace(r.pace_per_minute, r.pace_max_in_flight));
            return new CatalogRollout(r.id, rollout, release);
        });
        return new CatalogSnapshot(generation, releases, rollouts, blocks);
    }

    /// <summary>The stored filter: <c>{"device_ids": [...], "groups": [...]}</c> (either may be absent).</summary>
    public static TargetFilter ParseFilter(string json)
    {
        using var document = JsonDocument.Parse(json);
        return new TargetFilter(Strings(document.RootElement, "device_ids"), Strings(document.RootElement, "groups"));
    }

    private static IEnumerable<string> Strings(JsonElement root, string property) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(property, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToList()
            : [];

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record ReleaseRow(long id, string version, string device_model, string? min_version, string checksum_sha256, long size_bytes,
        byte[]? signature, string? signature_algorithm, string? release_notes, DateTime? withdrawn_at);

    private sealed record RolloutRow(long id, string name, long release_id, string device_model, string target_type, string target_filter,
        int rollout_percentage, bool is_active, bool allow_downgrade, decimal failure_threshold_percent, int failure_min_attempts,
        string? pause_reason, bool halted, int deadline_downloading_minutes, int deadline_installing_minutes, int deadline_success_minutes,
        string? phase_plan, int phase_index, DateTime? phase_started_at, string? phase_held_by,
        string windows, int? pace_per_minute, int? pace_max_in_flight);
#pragma warning restore IDE1006, SA1300
}

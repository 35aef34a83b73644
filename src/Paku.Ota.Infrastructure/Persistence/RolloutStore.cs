using System.Text.Json;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.CreateRollback;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Rollouts: created whole, changed under a row lock, and read with their progress counted
/// from rollout_devices in the same statement. Every write moves the catalog generation (trigger), so
/// other replicas reload their catalog within seconds.</summary>
public sealed class RolloutStore(NpgsqlDataSource dataSource, TimeProvider time, RolloutEventOutbox outbox) : IRolloutStore, IRolloutQueries
{
    private const string SelectViews = """
        select r.name, r.firmware_version, r.device_model, r.target_type, r.target_filter::text as target_filter,
               r.rollout_percentage, r.is_active, r.allow_downgrade, r.failure_threshold_percent, r.failure_min_attempts,
               r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes,
               r.windows::text as windows, r.pace_per_minute, r.pace_max_in_flight, h.in_flight,
               r.pause_reason, r.halted_at, r.halt_details::text as halt_details, fr.withdrawn_at is not null as release_withdrawn,
               r.created_by, r.created_at, r.updated_at,
               r.phase_plan::text as phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by, h.confirmed as health_confirmed,
               p.targeted, p.offered, p.downloading, p.installing, p.reported_success, p.confirmed, p.failed, p.rolled_back,
               h.timed_out, h.state, h.attempts,
               coalesce(round(100.0 * h.failures / nullif(h.attempts, 0), 2), 0) as failure_rate_percent
        from rollouts r
        join firmware_releases fr on fr.id = r.release_id
        cross join lateral (select * from rollout_health h where h.rollout_id = r.id) h
        cross join lateral (
            select count(*)::int as targeted,
                   count(*) filter (where rd.status = 'offered')::int as offered,
                   count(*) filter (where rd.status = 'downloading')::int as downloading,
                   count(*) filter (where rd.status = 'installing')::int as installing,
                   count(*) filter (where rd.status = 'success')::int as reported_success,
                   count(*) filter (where rd.status = 'confirmed')::int as confirmed,
                   count(*) filter (where rd.status = 'failed')::int as failed,
                   count(*) filter (where rd.status = 'rolled_back')::int as rolled_back
            from rollout_devices rd
            where rd.rollout_id = r.id
        ) p
        """;

    /// <summary>The named rollout as <see cref="Restore(StoredRow)"/> rebuilds it.</summary>
    private const string SelectStored = """
        select r.id, r.name, r.device_model, fr.version, r.target_type, r.target_filter::text as target_filter,
               r.rollout_percentage, r.is_active, r.allow_downgrade, r.failure_threshold_percent,
               r.failure_min_attempts, r.pause_reason, r.halted_at is not null as halted,
               r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes,
               r.phase_plan::text as phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by,
               r.windows::text as windows, r.pace_per_minute, r.pace_max_in_flight
        from rollouts r
        join firmware_releases fr on fr.id = r.release_id
        where r.name = @name
        """;

    public async Task<RolloutRelease?> FindReleaseAsync(string model, FirmwareVersion version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ReleaseRow>(new CommandDefinition("""
            select id, device_model, version, withdrawn_at, withdrawn_reason
            from firmware_releases
            where device_model = @model and ota_semver_key(version) = ota_semver_key(@version)
            """, new { model, version = version.ToString() }, cancellationToken: cancellationToken));
        return row is null
            ? null
            : new RolloutRelease(row.id, row.device_model, FirmwareVersion.Parse(row.version), Utc(row.withdrawn_at), row.withdrawn_reason);
    }

    public async Task<bool> AddAsync(
        Rollout rollout, long releaseId, string createdBy, RolloutEvent? rolloutEvent, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            insert into rollouts (name, release_id, firmware_version, device_model, target_type, target_filter,
                                  rollout_percentage, is_active, allow_downgrade, failure_threshold_percent,
                                  failure_min_attempts, pause_reason, created_by,
                                  deadline_downloading_minutes, deadline_installing_minutes, deadline_success_minutes,
                                  phase_plan, phase_index, phase_started_at, phase_held_by,
                                  windows, pace_per_minute, pace_max_in_flight)
            select @name, fr.id, fr.version, fr.device_model, @targetType, @filter::jsonb,
                   @percentage, @isActive, @allowDowngrade, @thresholdPercent,
                   @thresholdAttempts, @pauseReason, @createdBy,
                   @downloadingMinutes, @installingMinutes, @successMinutes,
                   @phasePlan::jsonb, @phaseIndex, @phaseStartedAt, @phaseHeldBy,
                   @windows::jsonb, @pacePerMinute, @paceMaxInFlight
            from firmware_releases fr
            where fr.id = @releaseId
            on conflict (name) do nothing
            """, new
        {
            name = rollout.Name,
            releaseId,
            targetType = rollout.TargetType.ToWire(),
            filter = FilterJson(rollout.Filter),
            percentage = rollout.Percentage,
            isActive = rollout.IsActive,
            allowDowngrade = rollout.AllowDowngrade,
            thresholdPercent = rollout.Threshold.Percent,
            thresholdAttempts = rollout.Threshold.MinimumAttempts,
            pauseReason = rollout.PauseReason,
            createdBy,
            downloadingMinutes = (int)rollout.Deadline.Downloading.TotalMinutes,
            installingMinutes = (int)rollout.Deadline.Installing.TotalMinutes,
            successMinutes = (int)rollout.Deadline.Success.TotalMinutes,
            phasePlan = rollout.Phasing is { } phasing ? PhasePlanJson.ToJson(phasing.Plan) : null,
            phaseIndex = rollout.Phasing?.Index ?? 0,
            phaseStartedAt = rollout.Phasing?.StartedAt,
            phaseHeldBy = rollout.Phasing?.HeldBy,
            windows = WindowsJson.Write(rollout.Windows),
            pacePerMinute = rollout.Pace.PerMinute,
            paceMaxInFlight = rollout.Pace.MaxInFlight,
        }, transaction, cancellationToken: cancellationToken));
        if (inserted != 1)
        {
            return false;
        }

        if (rolloutEvent is not null)
        {
            await outbox.AppendAsync(connection, transaction, rolloutEvent, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<IRolloutChange?> OpenAsync(string name, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var row = await connection.QuerySingleOrDefaultAsync<StoredRow>(new CommandDefinition(
                SelectStored + "\nfor update of r", new { name }, transaction, cancellationToken: cancellationToken));
            if (row is null)
            {
                await transaction.DisposeAsync();
                await connection.DisposeAsync();
                return null;
            }

            return new Change(connection, transaction, outbox, row.id, Restore(row));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<RollbackSource?> FindRollbackSourceAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<StoredRow>(new CommandDefinition(
            SelectStored, new { name }, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var rollout = Restore(row);
        var previous = await connection.QuerySingleOrDefaultAsync<ReleaseRow>(new CommandDefinition("""
            select id, device_model, version, withdrawn_at, withdrawn_reason
            from firmware_releases
            where device_model = @model and withdrawn_at is null and ota_semver_key(version) < ota_semver_key(@version)
            order by ota_semver_key(version) desc, created_at desc, id desc
            limit 1
            """, new { model = row.device_model, version = row.version }, cancellationToken: cancellationToken));
        var devices = await connection.QueryAsync<(string DeviceId, string Status)>(new CommandDefinition("""
            select device_id, status from rollout_devices where rollout_id = @id and status <> 'offered' order by device_id
            """, new { row.id }, cancellationToken: cancellationToken));
        return new RollbackSource(
            rollout,
            previous is null ? null : new RolloutRelease(previous.id, previous.device_model, FirmwareVersion.Parse(previous.version), null, null),
            [.. devices.Select(d => (d.DeviceId, UpdateStatuses.TryParse(d.Status, out var status)
                ? status
                : throw new InvalidOperationException($"rollout_devices holds an unknown status '{d.Status}'")))]);
    }

    public async Task<RolloutView?> GetAsync(string name, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<ViewRow>(new CommandDefinition(
            SelectViews + "\nwhere r.name = @name", new { name }, cancellationToken: cancellationToken));
        return row is null ? null : ToView(row);
    }

    public async Task<IReadOnlyList<RolloutView>> ListAsync(string? model, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ViewRow>(new CommandDefinition(
            SelectViews + "\nwhere @model::text is null or r.device_model = @model\norder by r.created_at desc, r.id desc",
            new { model }, cancellationToken: cancellationToken));
        return [.. rows.Select(ToView)];
    }

    /// <summary>The filter as stored: only the list its target type uses, sorted, so equal filters store equally.</summary>
    internal static string FilterJson(TargetFilter filter)
    {
        var json = new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (filter.DeviceIds.Count > 0)
        {
            json["device_ids"] = [.. filter.DeviceIds.Order(StringComparer.Ordinal)];
        }

        if (filter.Groups.Count > 0)
        {
            json["groups"] = [.. filter.Groups.Order(StringComparer.Ordinal)];
        }

        return JsonSerializer.Serialize(json);
    }

    private static Rollout Restore(StoredRow row)
    {
        TargetTypes.TryParse(row.target_type, out var type);
        return Rollout.Restore(
            row.name, row.device_model, FirmwareVersion.Parse(row.version), type, CatalogReader.ParseFilter(row.target_filter),
            row.rollout_percentage, row.is_active, row.allow_downgrade,
            new FailureThreshold(row.failure_threshold_percent, row.failure_min_attempts), row.pause_reason, row.halted,
            AttemptDeadline.FromMinutes(row.deadline_downloading_minutes, row.deadline_installing_minutes, row.deadline_success_minutes),
            PhasePlanJson.Phasing(row.phase_plan, row.phase_index, row.phase_started_at, row.phase_held_by),
            windows: WindowsJson.Read(row.windows), pace: new Pace(row.pace_per_minute, row.pace_max_in_flight));
    }

    /// <summary>The <c>rollout_health</c> view's state column, in the Domain's vocabulary.</summary>
    internal static RolloutState ParseState(string state) => state switch
    {
        "active" => RolloutState.Active,
        "paused" => RolloutState.Paused,
        "halted" => RolloutState.Halted,
        _ => throw new InvalidOperationException($"rollout_health has an unknown state '{state}'"),
    };

    private RolloutView ToView(ViewRow r)
    {
        var filter = CatalogReader.ParseFilter(r.target_filter);
        var shownFilter = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        if (filter.DeviceIds.Count > 0)
        {
            shownFilter["device_ids"] = [.. filter.DeviceIds.Order(StringComparer.Ordinal)];
        }

        if (filter.Groups.Count > 0)
        {
            shownFilter["groups"] = [.. filter.Groups.Order(StringComparer.Ordinal)];
        }

        var state = ParseState(r.state).ToWire();
        JsonElement? haltDetails = null;
        if (r.halt_details is not null)
        {
            using var document = JsonDocument.Parse(r.halt_details);
            haltDetails = document.RootElement.Clone();
        }

        var threshold = new FailureThreshold(r.failure_threshold_percent, r.failure_min_attempts);
        var phases = PhasePlanJson.Phasing(r.phase_plan, r.phase_index, r.phase_started_at, r.phase_held_by) is { } phasing
            ? PhasesView.Of(phasing, new RolloutCounts(r.attempts, r.failed, r.rolled_back, r.timed_out, r.health_confirmed), threshold,
                ParseState(r.state), time.GetUtcNow())
            : null;
        return new RolloutView(
            r.name, r.firmware_version, r.device_model, r.target_type, shownFilter, r.rollout_percentage, r.is_active, r.allow_downgrade,
            new FailureThresholdView(Normalised(r.failure_threshold_percent), r.failure_min_attempts),
            new AttemptDeadlineView(r.deadline_downloading_minutes, r.deadline_installing_minutes, r.deadline_success_minutes),
            WindowView.Of(WindowsJson.Read(r.windows)),
            new PaceView(r.pace_per_minute, r.pace_max_in_flight, r.in_flight),
            state, r.pause_reason, Utc(r.halted_at), haltDetails, r.release_withdrawn, r.created_by, Utc(r.created_at), Utc(r.updated_at),
            new RolloutProgress(r.targeted, r.offered, r.downloading, r.installing, r.reported_success, r.confirmed, r.failed, r.rolled_back,
                r.timed_out, r.attempts, Normalised(r.failure_rate_percent)),
            phases);
    }

    // numeric(5,2) reads back as 5.00; show 5.
    private static decimal Normalised(decimal value) => value / 1.0000000000000000000000000000m;

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DateTimeOffset? Utc(DateTime? value) => value is { } v ? Utc(v) : null;

    private sealed class Change(NpgsqlConnection connection, NpgsqlTransaction transaction, RolloutEventOutbox outbox, long id, Rollout rollout)
        : IRolloutChange
    {
        private readonly List<RolloutEvent> _events = [];

        public Rollout Rollout { get; } = rollout;

        public void Record(RolloutEvent rolloutEvent)
        {
            ArgumentNullException.ThrowIfNull(rolloutEvent);
            _events.Add(rolloutEvent);
        }

        public async Task SaveAsync(CancellationToken cancellationToken)
        {
            await UpdateAsync(cancellationToken);
            await CommitAsync(cancellationToken);
        }

        public async Task SaveAdvanceAsync(string actor, string detailsJson, CancellationToken cancellationToken)
        {
            if (Rollout.Phasing is not { } phasing)
            {
                throw new InvalidOperationException($"Rollout '{Rollout.Name}' has no plan of phases.");
            }

            await UpdateAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("""
                insert into audit_log (actor, action, target, outcome, details)
                values (@actor, 'rollout.phase_advance', @name, @outcome, @details::jsonb);
                """, new { actor, name = Rollout.Name, outcome = $"advanced to phase {phasing.Index + 1}", details = detailsJson },
                transaction, cancellationToken: cancellationToken));
            await CommitAsync(cancellationToken);
        }

        private async Task UpdateAsync(CancellationToken cancellationToken)
        {
            // A halt's time and details stay while the rollout is halted and go when it resumes, so that
            // the threshold can halt it again (RolloutHealthMonitor halts only rollouts that are not halted).
            await connection.ExecuteAsync(new CommandDefinition("""
                update rollouts
                   set target_filter = @filter::jsonb,
                       rollout_percentage = @percentage,
                       is_active = @isActive,
                       pause_reason = @pauseReason,
                       halted_at = case when @halted then halted_at end,
                       halt_details = case when @halted then halt_details end,
                       failure_threshold_percent = @thresholdPercent,
                       failure_min_attempts = @thresholdAttempts,
                       deadline_downloading_minutes = @downloadingMinutes,
                       deadline_installing_minutes = @installingMinutes,
                       deadline_success_minutes = @successMinutes,
                       phase_plan = @phasePlan::jsonb,
                       phase_index = @phaseIndex,
                       phase_started_at = @phaseStartedAt,
                       phase_held_by = @phaseHeldBy,
                       windows = @windows::jsonb,
                       pace_per_minute = @pacePerMinute,
                       pace_max_in_flight = @paceMaxInFlight,
                       updated_at = now()
                 where id = @id
                """, new
            {
                id,
                filter = FilterJson(Rollout.Filter),
                percentage = Rollout.Percentage,
                isActive = Rollout.IsActive,
                pauseReason = Rollout.PauseReason,
                halted = Rollout.IsHalted,
                thresholdPercent = Rollout.Threshold.Percent,
                thresholdAttempts = Rollout.Threshold.MinimumAttempts,
                downloadingMinutes = (int)Rollout.Deadline.Downloading.TotalMinutes,
                installingMinutes = (int)Rollout.Deadline.Installing.TotalMinutes,
                successMinutes = (int)Rollout.Deadline.Success.TotalMinutes,
                phasePlan = Rollout.Phasing is { } phasing ? PhasePlanJson.ToJson(phasing.Plan) : null,
                phaseIndex = Rollout.Phasing?.Index ?? 0,
                phaseStartedAt = Rollout.Phasing?.StartedAt,
                phaseHeldBy = Rollout.Phasing?.HeldBy,
                windows = WindowsJson.Write(Rollout.Windows),
                pacePerMinute = Rollout.Pace.PerMinute,
                paceMaxInFlight = Rollout.Pace.MaxInFlight,
            }, transaction, cancellationToken: cancellationToken));
        }

        public async Task SaveHaltAsync(string detailsJson, CancellationToken cancellationToken)
        {
            if (!Rollout.IsHalted)
            {
                throw new InvalidOperationException($"Rollout '{Rollout.Name}' is not halted.");
            }

            await connection.ExecuteAsync(new CommandDefinition("""
                update rollouts
                   set is_active = false, pause_reason = @reason, halted_at = now(), halt_details = @details::jsonb, updated_at = now()
                 where id = @id;
                insert into audit_log (actor, action, target, outcome, details)
                values ('system', 'rollout.halt', @name, 'halted', @details::jsonb || jsonb_build_object('reason', @reason::text));
                """, new { id, name = Rollout.Name, reason = Rollout.PauseReason, details = detailsJson }, transaction, cancellationToken: cancellationToken));
            await CommitAsync(cancellationToken);
        }

        private async Task CommitAsync(CancellationToken cancellationToken)
        {
            foreach (var rolloutEvent in _events)
            {
                await outbox.AppendAsync(connection, transaction, rolloutEvent, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.DisposeAsync(); // rolls back unless saved
            await connection.DisposeAsync();
        }
    }

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record ReleaseRow(long id, string device_model, string version, DateTime? withdrawn_at, string? withdrawn_reason);

    private sealed record StoredRow(long id, string name, string device_model, string version, string target_type, string target_filter,
        int rollout_percentage, bool is_active, bool allow_downgrade, decimal failure_threshold_percent, int failure_min_attempts,
        string? pause_reason, bool halted, int deadline_downloading_minutes, int deadline_installing_minutes, int deadline_success_minutes,
        string? phase_plan, int phase_index, DateTime? phase_started_at, string? phase_held_by,
        string windows, int? pace_per_minute, int? pace_max_in_flight);

    private sealed record ViewRow(string name, string firmware_version, string device_model, string target_type, string target_filter,
        int rollout_percentage, bool is_active, bool allow_downgrade, decimal failure_threshold_percent, int failure_min_attempts,
        int deadline_downloading_minutes, int deadline_installing_minutes, int deadline_success_minutes,
        string windows, int? pace_per_minute, int? pace_max_in_flight, int in_flight,
        string? pause_reason, DateTime? halted_at, string? halt_details, bool release_withdrawn,
        string? created_by, DateTime created_at, DateTime updated_at,
        string? phase_plan, int phase_index, DateTime? phase_started_at, string? phase_held_by, int health_confirmed,
        int targeted, int offered, int downloading, int installing, int reported_success, int confirmed, int failed, int rolled_back,
        int timed_out, string state, int attempts, decimal failure_rate_percent);
#pragma warning restore IDE1006, SA1300
}

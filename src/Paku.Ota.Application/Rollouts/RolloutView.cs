using System.Text.Json;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts;

/// <summary>A rollout as the admin API shows it: its settings, its state and its live progress.</summary>
/// <param name="TargetFilter">As stored: <c>device_ids</c> for specific, <c>groups</c> for group, empty otherwise.</param>
/// <param name="State">active, paused (by an operator) or halted (by its own failure threshold).</param>
/// <param name="ReleaseWithdrawn">The release was withdrawn: the rollout offers nothing, whatever its state.</param>
public sealed record RolloutView(
    string Name,
    string FirmwareVersion,
    string DeviceModel,
    string TargetType,
    IReadOnlyDictionary<string, IReadOnlyList<string>> TargetFilter,
    int RolloutPercentage,
    bool IsActive,
    bool AllowDowngrade,
    FailureThresholdView FailureThreshold,
    AttemptDeadlineView AttemptDeadline,
    IReadOnlyList<WindowView> Windows,
    PaceView Pace,
    string State,
    string? PauseReason,
    DateTimeOffset? HaltedAt,
    JsonElement? HaltDetails,
    bool ReleaseWithdrawn,
    string? CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    RolloutProgress Progress,
    PhasesView? Phase = null)
{
    /// <summary>The plan as sent (with each phase's place: done, current or next); null without a plan.</summary>
    public IReadOnlyList<PhaseView>? Phases => Phase?.Plan;
}

/// <summary>Where a phased rollout stands: its current phase (from 1), the gates of that phase with the
/// rollout's figures, and what the gates decide now.</summary>
/// <param name="Decision">advance, hold, halt or final (the last phase), as <see cref="RolloutPlan.Decide"/> says;
/// hold for a rollout that is not active, whose phases do not move.</param>
/// <param name="HeldBy">Set while an operator holds the rollout in its phase.</param>
public sealed record PhasesView(
    int Current,
    int Count,
    string Reach,
    DateTimeOffset StartedAt,
    string? HeldBy,
    string Decision,
    string Reason,
    IReadOnlyList<GateCheck> Gates,
    [property: System.Text.Json.Serialization.JsonIgnore] IReadOnlyList<PhaseView> Plan)
{
    public static PhasesView Of(RolloutPhasing phasing, RolloutCounts counts, FailureThreshold threshold, RolloutState state, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(phasing);
        var decision = phasing.Decide(counts, threshold, now);
        var (action, reason) = state == RolloutState.Active
            ? (decision.Action.ToString().ToLowerInvariant(), decision.Reason)
            : ("hold", $"the rollout is {state.ToWire()}: its phases do not move until it is resumed");
        var plan = phasing.Plan.Phases.Select((p, i) => new PhaseView(
            i + 1,
            p.Percentage,
            p.Percentage is null ? [.. p.Groups.Order(StringComparer.Ordinal)] : null,
            p.Gates.MinConfirmed,
            p.Gates.MaxFailurePercent,
            (int)p.Gates.MinSoak.TotalSeconds,
            i < phasing.Index ? "done" : i == phasing.Index ? "current" : "next")).ToList();
        return new PhasesView(phasing.Index + 1, phasing.Plan.Count, phasing.Current.Reach, phasing.StartedAt, phasing.HeldBy,
            action, reason, decision.Gates, plan);
    }
}

/// <summary>One phase of a plan as the admin API shows it (the create request's format, plus its number and status).</summary>
/// <param name="Status">done, current or next.</param>
public sealed record PhaseView(
    int Number,
    int? Percentage,
    IReadOnlyList<string>? Groups,
    int MinConfirmed,
    decimal? MaxFailurePercent,
    int MinSoakSeconds,
    string Status);

public sealed record FailureThresholdView(decimal Percent, int MinimumAttempts);

/// <summary>A maintenance window as sent and stored: days (empty: every day), local start and end (HH:mm), IANA time zone.</summary>
public sealed record WindowView(IReadOnlyList<string> Days, string Start, string End, string TimeZone)
{
    public static IReadOnlyList<WindowView> Of(Domain.Rollouts.WindowSchedule schedule) =>
        [.. schedule.Windows.Select(w => new WindowView(
            w.DayNamesInOrder,
            w.Start.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            w.End.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture),
            w.TimeZoneId))];
}

/// <summary>The rollout's pace (null parts do not limit) and its attempts in flight now, as the pace counts them.</summary>
public sealed record PaceView(int? PerMinute, int? MaxInFlight, int InFlight);

/// <summary>Minutes a device may stay silent in each step before its attempt times out.</summary>
public sealed record AttemptDeadlineView(int DownloadingMinutes, int InstallingMinutes, int SuccessMinutes);

/// <summary>Counted from the rollout's devices (one row per device it offered its release to).</summary>
/// <param name="Targeted">Devices the rollout has offered its release to.</param>
/// <param name="Offered">Of those, devices that have not started yet.</param>
/// <param name="ReportedSuccess">Devices that reported success and have not checked in since.</param>
/// <param name="Attempts">Devices that started an attempt (every status but offered), as the halt rule counts them.</param>
/// <param name="TimedOut">Devices silent in a step past the rollout's deadline (a failure until they tell more).</param>
/// <param name="FailureRatePercent">(failed + rolled back + timed out) per 100 attempts, 0 before any.</param>
public sealed record RolloutProgress(
    int Targeted,
    int Offered,
    int Downloading,
    int Installing,
    int ReportedSuccess,
    int Confirmed,
    int Failed,
    int RolledBack,
    int TimedOut,
    int Attempts,
    decimal FailureRatePercent);

/// <summary>A target filter as sent: either list may be missing.</summary>
public sealed record TargetFilterInput(IReadOnlyList<string>? DeviceIds = null, IReadOnlyList<string>? Groups = null);

/// <summary>A failure threshold as sent: a missing part keeps its default (create) or its stored value (change).</summary>
public sealed record FailureThresholdInput(decimal? Percent = null, int? MinimumAttempts = null);

/// <summary>Attempt deadlines as sent, in minutes: a missing part keeps its default (create) or its stored value (change).</summary>
public sealed record AttemptDeadlineInput(int? DownloadingMinutes = null, int? InstallingMinutes = null, int? SuccessMinutes = null)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsEmpty => DownloadingMinutes is null && InstallingMinutes is null && SuccessMinutes is null;

    public IReadOnlyList<Domain.Rollouts.FieldError> Validate(Domain.Rollouts.AttemptDeadline current) =>
        Domain.Rollouts.AttemptDeadline.Validate(
            DownloadingMinutes ?? (int)current.Downloading.TotalMinutes,
            InstallingMinutes ?? (int)current.Installing.TotalMinutes,
            SuccessMinutes ?? (int)current.Success.TotalMinutes);

    public Domain.Rollouts.AttemptDeadline Over(Domain.Rollouts.AttemptDeadline current) =>
        Domain.Rollouts.AttemptDeadline.FromMinutes(
            DownloadingMinutes ?? (int)current.Downloading.TotalMinutes,
            InstallingMinutes ?? (int)current.Installing.TotalMinutes,
            SuccessMinutes ?? (int)current.Success.TotalMinutes);
}

/// <summary>A maintenance window as sent; <see cref="ToSchedule"/> names a bad part <c>windows[i].field</c>.</summary>
public sealed record WindowInput(IReadOnlyList<string>? Days = null, string? Start = null, string? End = null, string? TimeZone = null)
{
    public static (Domain.Rollouts.WindowSchedule? Schedule, IReadOnlyList<Domain.Rollouts.FieldError> Errors) ToSchedule(IReadOnlyList<WindowInput> inputs)
    {
        List<Domain.Rollouts.FieldError> errors = [.. Domain.Rollouts.WindowSchedule.ValidateCount(inputs.Count)];
        List<Domain.Rollouts.MaintenanceWindow> windows = [];
        for (var i = 0; i < Math.Min(inputs.Count, Domain.Rollouts.WindowSchedule.MaxWindows); i++)
        {
            var input = inputs[i];
            var (window, problems) = Domain.Rollouts.MaintenanceWindow.Create(
                input.Days, input.Start, input.End, input.TimeZone, $"{Domain.Rollouts.WindowSchedule.Field}[{i}].");
            errors.AddRange(problems);
            if (window is not null)
            {
                windows.Add(window);
            }
        }

        return errors.Count > 0 ? (null, errors) : (new Domain.Rollouts.WindowSchedule(windows), []);
    }
}

/// <summary>A pace as sent; on a change it replaces the stored pace as a whole (<c>{}</c> removes pacing).</summary>
public sealed record PaceInput(int? PerMinute = null, int? MaxInFlight = null)
{
    public IReadOnlyList<Domain.Rollouts.FieldError> Validate() => Domain.Rollouts.Pace.Validate(PerMinute, MaxInFlight);

    public Domain.Rollouts.Pace ToPace() => new(PerMinute, MaxInFlight);
}

namespace Paku.Ota.Domain.Rollouts.Events;

/// <summary>What happened to a rollout, as told to webhook receivers. The wire names are part of the
/// payload schema (<see cref="RolloutEvent.SchemaVersion"/>): a new kind may be added, none renamed.</summary>
public enum RolloutEventKind
{
    Halted,
    Resumed,
    Paused,
    Completed,
    RollbackStarted,
    PhaseAdvanced,
}

public static class RolloutEventKinds
{
    public static string ToWire(this RolloutEventKind kind) => kind switch
    {
        RolloutEventKind.Halted => "rollout.halted",
        RolloutEventKind.Resumed => "rollout.resumed",
        RolloutEventKind.Paused => "rollout.paused",
        RolloutEventKind.Completed => "rollout.completed",
        RolloutEventKind.RollbackStarted => "rollout.rollback_started",
        RolloutEventKind.PhaseAdvanced => "rollout.phase_advanced",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a rollout event kind"),
    };

    public static IReadOnlyList<string> WireNames { get; } = [.. Enum.GetValues<RolloutEventKind>().Select(k => k.ToWire())];
}

/// <summary>The figures a halt was decided on.</summary>
public sealed record HaltFigures(
    int Attempts, int Failed, int RolledBack, int TimedOut, decimal FailureRatePercent, decimal ThresholdPercent, int MinimumAttempts);

/// <summary>Kind-specific part of an event (the payload's <c>data</c>). Property names become the
/// payload's snake_case keys; each record is part of schema <see cref="RolloutEvent.SchemaVersion"/>.</summary>
public abstract record RolloutEventData;

/// <param name="Phase">For a phased rollout halted by its current phase's failure gate: that phase (1-based); otherwise null.</param>
public sealed record HaltedData(string Reason, HaltFigures Figures, string TriggeredBy, int? Phase = null) : RolloutEventData;

/// <param name="Actor">The API key that paused it; null when withdrawing its release paused it.</param>
public sealed record PausedData(string Reason, string? Actor) : RolloutEventData;

public sealed record ResumedData(string Actor, string PreviousState, string? PreviousReason) : RolloutEventData;

public sealed record CompletedData(int Confirmed, int Attempts) : RolloutEventData;

public sealed record RollbackStartedData(string RollbackRollout, string ToVersion, int Devices, string Actor) : RolloutEventData;

/// <param name="Reach">The new phase's reach as the plan says it (a percentage, or groups).</param>
/// <param name="Trigger">automatic (its gates passed) or manual (an operator advanced it).</param>
public sealed record PhaseAdvancedData(
    int FromPhase, int ToPhase, int Phases, string Reach, int Percentage, string Trigger, string Actor, string Reason) : RolloutEventData;

/// <summary>One event of one rollout, before the outbox gives it an id and a time. The names of
/// a rollout and the version it offers travel with every event, so a receiver needs no lookup.</summary>
public sealed record RolloutEvent(RolloutEventKind Kind, string RolloutName, string DeviceModel, string FirmwareVersion, RolloutEventData Data)
{
    /// <summary>Version of the payload schema (the envelope and every kind's data), sent as <c>schema</c>.</summary>
    public const int SchemaVersion = 1;

    public static RolloutEvent Halted(Rollout rollout, RolloutCounts counts, HealthVerdict verdict, string triggeredBy)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(verdict);
        var figures = new HaltFigures(
            counts.Attempts, counts.Failed, counts.RolledBack, counts.TimedOut, verdict.FailureRatePercent,
            rollout.Threshold.Percent, rollout.Threshold.MinimumAttempts);
        return Of(RolloutEventKind.Halted, rollout, new HaltedData(verdict.Reason, figures, triggeredBy));
    }

    /// <summary>The event an operator's change of a rollout's activity makes, or null when its state
    /// did not move between running and stopped (a paused rollout paused again, an active one resumed).</summary>
    public static RolloutEvent? ForOperatorChange(Rollout rollout, RolloutState before, string? reasonBefore, string actor)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentException.ThrowIfNullOrWhiteSpace(actor);
        return (before, rollout.State) switch
        {
            (RolloutState.Active, RolloutState.Paused) => Of(RolloutEventKind.Paused, rollout, new PausedData(rollout.PauseReason ?? $"paused by {actor}", actor)),
            (not RolloutState.Active, RolloutState.Active) => Of(RolloutEventKind.Resumed, rollout, new ResumedData(actor, before.ToWire(), reasonBefore)),
            _ => null,
        };
    }

    /// <summary>Withdrawing the release a rollout offers paused the rollout.</summary>
    public static RolloutEvent PausedByWithdrawal(string rolloutName, string deviceModel, string firmwareVersion, string reason) =>
        new(RolloutEventKind.Paused, rolloutName, deviceModel, firmwareVersion, new PausedData(reason, Actor: null));

    public static RolloutEvent RollbackStarted(Rollout halted, Rollout rollback, int devices, string actor)
    {
        ArgumentNullException.ThrowIfNull(halted);
        ArgumentNullException.ThrowIfNull(rollback);
        return Of(RolloutEventKind.RollbackStarted, halted, new RollbackStartedData(rollback.Name, rollback.Version.ToString(), devices, actor));
    }

    /// <summary>The rollout completed (<see cref="RolloutCompletion"/>), with its figures at that moment.</summary>
    public static RolloutEvent Completed(string rolloutName, string deviceModel, string firmwareVersion, int confirmed, int attempts) =>
        new(RolloutEventKind.Completed, rolloutName, deviceModel, firmwareVersion, new CompletedData(confirmed, attempts));

    /// <summary>A phased rollout moved to its next phase (<see cref="Rollout.AdvancePhase"/> already ran).</summary>
    /// <param name="fromIndex">The phase it left, 0-based as in <see cref="RolloutPhasing.Index"/>.</param>
    public static RolloutEvent PhaseAdvanced(Rollout rollout, int fromIndex, string trigger, string actor, string reason)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var phasing = rollout.Phasing ?? throw new ArgumentException($"Rollout '{rollout.Name}' has no plan of phases.", nameof(rollout));
        return Of(RolloutEventKind.PhaseAdvanced, rollout, new PhaseAdvancedData(
            fromIndex + 1, phasing.Index + 1, phasing.Plan.Count, phasing.Current.Reach, rollout.Percentage, trigger, actor, reason));
    }

    /// <summary>A phased rollout halted by its current phase's failure gate (<see cref="Rollout.Halt"/> already ran).</summary>
    public static RolloutEvent HaltedByPhaseGate(Rollout rollout, RolloutCounts counts, PhaseDecision decision, decimal maxFailurePercent, string triggeredBy)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(decision);
        var phasing = rollout.Phasing ?? throw new ArgumentException($"Rollout '{rollout.Name}' has no plan of phases.", nameof(rollout));
        var figures = new HaltFigures(
            counts.Attempts, counts.Failed, counts.RolledBack, counts.TimedOut, Math.Round(RolloutHealth.FailureRatePercent(counts), 2),
            maxFailurePercent, rollout.Threshold.MinimumAttempts);
        return Of(RolloutEventKind.Halted, rollout, new HaltedData(decision.Reason, figures, triggeredBy, phasing.Index + 1));
    }

    private static RolloutEvent Of(RolloutEventKind kind, Rollout rollout, RolloutEventData data) =>
        new(kind, rollout.Name, rollout.DeviceModel, rollout.Version.ToString(), data);
}

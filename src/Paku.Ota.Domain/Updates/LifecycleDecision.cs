namespace Paku.Ota.Domain.Updates;

public enum LifecycleOutcome
{
    /// <summary>A first attempt at a new target, or a retry after failed or rolled back.</summary>
    Started,

    /// <summary>Moved forward (downloading → installing → success), possibly skipping a step.</summary>
    Advanced,

    /// <summary>Same status, more progress.</summary>
    Progressed,

    /// <summary>Same status again, no more progress: nothing changes.</summary>
    Repeated,

    /// <summary>Would go backwards, or arrived after the attempt ended: kept in history, state unchanged.</summary>
    Stale,

    Failed,
    Confirmed,
    RolledBack,

    /// <summary>The device stayed silent past the rollout's deadline for its step.</summary>
    TimedOut,

    /// <summary>A check-in that tells nothing new.</summary>
    Unchanged,
}

/// <summary>What a report or check-in does to a device's current attempt.</summary>
public sealed record LifecycleDecision
{
    internal LifecycleDecision(LifecycleOutcome outcome, UpdateAttempt? newAttempt, string reason)
    {
        Outcome = outcome;
        NewAttempt = newAttempt;
        Reason = reason;
    }

    public LifecycleOutcome Outcome { get; }

    /// <summary>The attempt's new state, or null when the state does not change.</summary>
    public UpdateAttempt? NewAttempt { get; }

    public string Reason { get; }

    public bool StartsAttempt => Outcome == LifecycleOutcome.Started;

    /// <summary>
    /// This decision turns an attempt into a failure (failed, rolled back or timed out). True once per
    /// failure: a repeated failed report changes nothing and does not count again.
    /// </summary>
    public bool CountsAsFailure => NewAttempt is { } attempt && Rollouts.RolloutHealth.IsFailure(attempt.Status);
}

namespace Paku.Ota.Domain.Rollouts;

/// <summary>Where a rollout stands: the one vocabulary of the admin API, <c>/explain</c>, the metrics
/// and the dashboard (the database's <c>rollout_health</c> view derives the same, pinned by a test).</summary>
public enum RolloutState
{
    /// <summary>Offering its release to the devices it targets.</summary>
    Active,

    /// <summary>Stopped by an operator (or by withdrawing its release), or created inactive.</summary>
    Paused,

    /// <summary>Stopped by its own failure threshold.</summary>
    Halted,
}

/// <summary>The wire names of <see cref="RolloutState"/>: active, paused, halted.</summary>
public static class RolloutStates
{
    public static string ToWire(this RolloutState state) => state switch
    {
        RolloutState.Active => "active",
        RolloutState.Paused => "paused",
        RolloutState.Halted => "halted",
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not a rollout state"),
    };
}

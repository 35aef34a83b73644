namespace Paku.Ota.Domain.Updates;

/// <summary>Why a device is or is not offered an update, rollout by rollout.</summary>
/// <param name="HeldBy">The rollback rollout that targets the device, when one does: no rollout that
/// does not allow downgrades is offered to the device while it does.</param>
public sealed record SelectionExplanation(
    DeviceSnapshot Device,
    RolloutCandidate? Chosen,
    IReadOnlyList<CandidateExplanation> Candidates,
    RolloutCandidate? HeldBy = null)
{
    public string Summary => Chosen is null
        ? Candidates.Count == 0
            ? "no update: no rollout exists for the device to be offered"
            : HeldBy is not null
                ? $"no update: rollback rollout {HeldBy.Rollout.Name} targets the device, so no other rollout is offered to it"
                : $"no update: none of the {Candidates.Count} rollouts offers the device a version"
        : $"rollout {Chosen.Rollout.Name} offers {Chosen.Rollout.Version}";
}

/// <param name="Sentence">The verdict in words, e.g. "rollout v1.2.0-canary offers 1.2.0".</param>
public sealed record CandidateExplanation(RolloutCandidate Candidate, SelectionVerdict Verdict, string Sentence)
{
    /// <summary>The device's bucket (0–9999) when the percentage was weighed, otherwise null.</summary>
    public int? Bucket { get; init; }

    /// <summary>The rollout's percentage when the device fell outside it, otherwise null.</summary>
    public int? Percentage { get; init; }

    /// <summary>For a phased rollout: the phase (from 0) that reaches the device, null when none does or the
    /// rollout has no plan (or the verdict was decided before targeting).</summary>
    public int? DevicePhase { get; init; }

    /// <summary>Why the rollout is inactive, for <see cref="SelectionVerdict.Inactive"/>.</summary>
    public string? PauseReason { get; init; }

    /// <summary>The candidate that won, for <see cref="SelectionVerdict.Outranked"/>.</summary>
    public RolloutCandidate? OutrankedBy { get; init; }

    /// <summary>The rollback rollout holding the device, for <see cref="SelectionVerdict.HeldByRollback"/>.</summary>
    public RolloutCandidate? HeldBy { get; init; }
}

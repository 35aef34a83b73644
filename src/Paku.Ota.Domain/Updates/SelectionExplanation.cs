namespace Paku.Ota.Domain.Updates;

/// <summary>Why a device is or is not offered an update, rollout by rollout.</summary>
public sealed record SelectionExplanation(
    DeviceSnapshot Device,
    RolloutCandidate? Chosen,
    IReadOnlyList<CandidateExplanation> Candidates)
{
    public string Summary => Chosen is null
        ? Candidates.Count == 0
            ? "no update: no rollout exists for the device to be offered"
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

    /// <summary>Why the rollout is inactive, for <see cref="SelectionVerdict.Inactive"/>.</summary>
    public string? PauseReason { get; init; }

    /// <summary>The candidate that won, for <see cref="SelectionVerdict.Outranked"/>.</summary>
    public RolloutCandidate? OutrankedBy { get; init; }
}

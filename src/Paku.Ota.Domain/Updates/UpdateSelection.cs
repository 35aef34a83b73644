using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Updates;

/// <summary>
/// The one place that decides what a device is offered. <see cref="Select"/> (every device
/// check) and <see cref="Explain"/> (operators asking why) run the same <see cref="Decide"/>,
/// so they cannot disagree. While a rollback rollout (one that allows downgrades) targets a device, no
/// rollout that does not is offered to it: a fleet sent back does not ping-pong to the bad release.
/// </summary>
public static class UpdateSelection
{
    // Enough to recognise a filter in a sentence without printing all of it.
    private const int ListedInSentence = 5;

    public static RolloutCandidate? Select(DeviceSnapshot device, IReadOnlyList<RolloutCandidate> candidates)
    {
        var chosen = Decide(device, candidates, [], out _);
        return chosen < 0 ? null : candidates[chosen];
    }

    public static SelectionExplanation Explain(DeviceSnapshot device, IReadOnlyList<RolloutCandidate> candidates)
    {
        var evaluations = new Evaluation[candidates.Count];
        var chosen = Decide(device, candidates, evaluations, out var holder);
        var winner = chosen < 0 ? null : candidates[chosen];
        var heldBy = holder < 0 ? null : candidates[holder];

        var explained = new CandidateExplanation[candidates.Count];
        for (var i = 0; i < candidates.Count; i++)
        {
            explained[i] = Describe(device, candidates[i], evaluations[i], i == chosen ? null : winner, heldBy);
        }

        return new SelectionExplanation(device, winner, explained, heldBy);
    }

    private readonly record struct Evaluation(SelectionVerdict Verdict, int Bucket);

    /// <summary>
    /// Evaluates every candidate (into <paramref name="evaluations"/> when it is not empty) and
    /// returns the index of the winner, or -1; <paramref name="holder"/> is the rollback rollout that
    /// holds the device, or -1. Allocates nothing.
    /// </summary>
    private static int Decide(DeviceSnapshot device, IReadOnlyList<RolloutCandidate> candidates, Span<Evaluation> evaluations, out int holder)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(candidates);

        holder = HoldingRollback(device, candidates);
        var chosen = -1;
        for (var i = 0; i < candidates.Count; i++)
        {
            var verdict = Evaluate(device, candidates[i], out var bucket);
            if (verdict == SelectionVerdict.Offered && holder >= 0 && !candidates[i].Rollout.AllowDowngrade)
            {
                verdict = SelectionVerdict.HeldByRollback;
            }

            if (!evaluations.IsEmpty)
            {
                evaluations[i] = new Evaluation(verdict, bucket);
            }

            if (verdict == SelectionVerdict.Offered && (chosen < 0 || Outranks(candidates[i], candidates[chosen])))
            {
                chosen = i;
            }
        }

        return chosen;
    }

    /// <summary>The best-ranked rollback rollout (active, its release not withdrawn, for the device's model,
    /// allowing downgrades) whose targeting reaches the device, or -1. Whether it offers the device
    /// anything does not matter: a device it already took back is held all the same.</summary>
    private static int HoldingRollback(DeviceSnapshot device, IReadOnlyList<RolloutCandidate> candidates)
    {
        var holder = -1;
        for (var i = 0; i < candidates.Count; i++)
        {
            var candidate = candidates[i];
            var rollout = candidate.Rollout;
            if (rollout.AllowDowngrade && rollout.IsActive && !candidate.Release.IsWithdrawn
                && string.Equals(rollout.DeviceModel, device.Model, StringComparison.Ordinal)
                && rollout.TargetingOf(device.DeviceId, device.Groups, out _) == Rollout.Targeting.Targeted
                && (holder < 0 || Outranks(candidate, candidates[holder])))
            {
                holder = i;
            }
        }

        return holder;
    }

    /// <summary>The first rule the candidate fails, or <see cref="SelectionVerdict.Offered"/> when it is eligible.</summary>
    private static SelectionVerdict Evaluate(DeviceSnapshot device, RolloutCandidate candidate, out int bucket)
    {
        bucket = -1;
        var rollout = candidate.Rollout;
        if (!string.Equals(rollout.DeviceModel, device.Model, StringComparison.Ordinal))
        {
            return SelectionVerdict.OtherModel;
        }

        if (!rollout.IsActive)
        {
            return SelectionVerdict.Inactive;
        }

        if (candidate.Release.IsWithdrawn)
        {
            return SelectionVerdict.ReleaseWithdrawn;
        }

        switch (rollout.TargetingOf(device.DeviceId, device.Groups, out bucket))
        {
            case Rollout.Targeting.NotListed: return SelectionVerdict.NotListed;
            case Rollout.Targeting.NoGroups: return SelectionVerdict.NoGroups;
            case Rollout.Targeting.NotInGroup: return SelectionVerdict.NotInGroup;
            case Rollout.Targeting.OutsidePercentage: return SelectionVerdict.OutsidePercentage;
        }

        var byVersion = rollout.Version.CompareTo(device.CurrentVersion);
        if (byVersion == 0)
        {
            return SelectionVerdict.AlreadyOnVersion;
        }

        if (byVersion < 0 && !rollout.AllowDowngrade)
        {
            return SelectionVerdict.NotNewer;
        }

        if (candidate.Release.MinVersion is { } minimum && device.CurrentVersion < minimum)
        {
            return SelectionVerdict.BelowMinVersion;
        }

        return SelectionVerdict.Offered;
    }

    /// <summary>Most specific targeting first, then the highest version, then the name (ordinal) so that the choice is stable.</summary>
    private static bool Outranks(RolloutCandidate challenger, RolloutCandidate holder)
    {
        var bySpecificity = Specificity(challenger.Rollout.TargetType).CompareTo(Specificity(holder.Rollout.TargetType));
        if (bySpecificity != 0)
        {
            return bySpecificity > 0;
        }

        var byVersion = challenger.Rollout.Version.CompareTo(holder.Rollout.Version);
        if (byVersion != 0)
        {
            return byVersion > 0;
        }

        return string.CompareOrdinal(challenger.Rollout.Name, holder.Rollout.Name) < 0;
    }

    private static int Specificity(TargetType type) => type switch
    {
        TargetType.Specific => 3,
        TargetType.Group => 2,
        _ => 1,
    };

    private static CandidateExplanation Describe(
        DeviceSnapshot device, RolloutCandidate candidate, Evaluation evaluation, RolloutCandidate? winner, RolloutCandidate? heldBy)
    {
        var rollout = candidate.Rollout;
        var name = $"rollout {rollout.Name}";
        var version = rollout.Version;
        var current = device.CurrentVersion;
        int? bucket = evaluation.Bucket < 0 ? null : evaluation.Bucket;

        switch (evaluation.Verdict)
        {
            case SelectionVerdict.Offered when winner is not null:
                return new CandidateExplanation(
                    candidate, SelectionVerdict.Outranked,
                    $"{name} would offer {version}, but rollout {winner.Rollout.Name} wins: {WhyWins(winner, candidate)}")
                { Bucket = bucket, OutrankedBy = winner };

            case SelectionVerdict.Offered:
                return new CandidateExplanation(candidate, SelectionVerdict.Offered, $"{name} offers {version}" + PhaseNote(rollout, device, out var phase))
                { Bucket = bucket, DevicePhase = phase };

            case SelectionVerdict.HeldByRollback:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict,
                    $"{name} would offer {version}, but rollback rollout {heldBy!.Rollout.Name} targets the device, " +
                    $"and while it does no other rollout is offered to it (pause rollout {heldBy.Rollout.Name} to release the device)")
                { Bucket = bucket, HeldBy = heldBy };

            case SelectionVerdict.OtherModel:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict, $"{name} is for model {rollout.DeviceModel}, the device is a {device.Model}");

            case SelectionVerdict.Inactive:
                var state = rollout.State.ToWire();
                var sentence = rollout.PauseReason is null ? $"{name} is {state}" : $"{name} is {state}: {rollout.PauseReason}";
                return new CandidateExplanation(candidate, evaluation.Verdict, sentence) { PauseReason = rollout.PauseReason };

            case SelectionVerdict.ReleaseWithdrawn:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict, $"{name} offers {version}, but that release has been withdrawn");

            case SelectionVerdict.NotListed:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict, $"{name} targets specific devices and does not list {device.DeviceId}");

            case SelectionVerdict.NoGroups:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict, $"{name} targets groups {Listed(rollout.Filter.Groups)} and the device belongs to no group" +
                    PhaseNote(rollout, device, out var noGroupsPhase))
                { DevicePhase = noGroupsPhase };

            case SelectionVerdict.NotInGroup:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict,
                    $"{name} targets groups {Listed(rollout.Filter.Groups)} and the device is only in {Listed(device.Groups)}" +
                    PhaseNote(rollout, device, out var notInGroupPhase))
                { DevicePhase = notInGroupPhase };

            case SelectionVerdict.OutsidePercentage:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict,
                    $"{name} reaches {rollout.Percentage} % of devices (buckets below {rollout.Percentage * 100}) " +
                    $"and the device is in bucket {evaluation.Bucket} of {PercentageBucket.Count}" + PhaseNote(rollout, device, out var outsidePhase))
                { Bucket = bucket, Percentage = rollout.Percentage, DevicePhase = outsidePhase };

            case SelectionVerdict.AlreadyOnVersion:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict, $"{name} offers {version}, which the device already runs") { Bucket = bucket };

            case SelectionVerdict.NotNewer:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict,
                    $"{name} offers {version}, older than the device's {current}, and does not allow downgrades")
                { Bucket = bucket };

            case SelectionVerdict.BelowMinVersion:
                return new CandidateExplanation(
                    candidate, evaluation.Verdict,
                    $"{name} offers {version}, which needs at least {candidate.Release.MinVersion}; the device runs {current}")
                { Bucket = bucket };

            default:
                throw new InvalidOperationException($"no explanation for verdict {evaluation.Verdict}");
        }
    }

    /// <summary>For a phased rollout: the phase it runs, and the phase the device comes in at (and why it
    /// waits, when that is a later one). Empty for a rollout without a plan.</summary>
    private static string PhaseNote(Rollout rollout, DeviceSnapshot device, out int? devicePhase)
    {
        devicePhase = null;
        if (rollout.Phasing is not { } phasing)
        {
            return "";
        }

        var current = $"phase {phasing.Index + 1} of {phasing.Plan.Count} ({phasing.Current.Reach}) runs";
        var at = phasing.Plan.PhaseReaching(rollout.Name, device.DeviceId, device.Groups);
        if (at < 0)
        {
            return $"; {current}, and no phase of its plan reaches the device";
        }

        devicePhase = at;
        var reach = phasing.Plan.Phases[at].Reach;
        if (at <= phasing.Index)
        {
            return $"; {current}, and the device came in at phase {at + 1} ({reach})";
        }

        var waits = phasing.HeldBy is null ? "once the phases before it pass their gates" : $"after the held phase is advanced ({phasing.HeldBy})";
        return $"; {current}: the device comes in at phase {at + 1} ({reach}), {waits}";
    }

    private static string WhyWins(RolloutCandidate winner, RolloutCandidate loser)
    {
        var winnerType = winner.Rollout.TargetType;
        var loserType = loser.Rollout.TargetType;
        if (Specificity(winnerType) != Specificity(loserType))
        {
            return $"its {winnerType.ToWire()} targeting is more specific than {loserType.ToWire()}";
        }

        if (winner.Rollout.Version != loser.Rollout.Version)
        {
            return $"it offers the higher version {winner.Rollout.Version}";
        }

        return "same targeting and version, and its name sorts first";
    }

    private static string Listed(IEnumerable<string> values)
    {
        var sorted = values.Order(StringComparer.Ordinal).ToList();
        var shown = string.Join(", ", sorted.Take(ListedInSentence));
        return sorted.Count > ListedInSentence ? $"{shown} (+{sorted.Count - ListedInSentence} more)" : shown;
    }
}

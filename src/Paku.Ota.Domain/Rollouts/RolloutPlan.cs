using System.Collections.Frozen;
using System.Globalization;
using Paku.Ota.Domain.Devices;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>What a phase must show before the rollout moves on to the next one: at least
/// <see cref="MinConfirmed"/> confirmed boots (devices that booted the release and checked in running it,
/// counted over the whole rollout), a failure rate (failures per 100 attempts of the whole rollout) at most
/// <see cref="MaxFailurePercent"/> — the rollout's own threshold when null — and at least
/// <see cref="MinSoak"/> since the phase began.</summary>
public sealed record PhaseGates(int MinConfirmed, decimal? MaxFailurePercent, TimeSpan MinSoak)
{
    public const int MaxConfirmed = 1_000_000;

    /// <summary>The longest soak accepted: 30 days.</summary>
    public const int MaxSoakSeconds = 30 * 24 * 3600;

    public static PhaseGates None { get; } = new(0, null, TimeSpan.Zero);

    public int MinConfirmed { get; } = MinConfirmed is >= 0 and <= MaxConfirmed
        ? MinConfirmed
        : throw new ArgumentOutOfRangeException(nameof(MinConfirmed), MinConfirmed, $"must be from 0 to {MaxConfirmed}");

    public decimal? MaxFailurePercent { get; } = MaxFailurePercent is null or (>= 0m and <= 100m)
        ? MaxFailurePercent
        : throw new ArgumentOutOfRangeException(nameof(MaxFailurePercent), MaxFailurePercent, "must be from 0 to 100");

    public TimeSpan MinSoak { get; } = MinSoak >= TimeSpan.Zero && MinSoak <= TimeSpan.FromSeconds(MaxSoakSeconds)
        ? MinSoak
        : throw new ArgumentOutOfRangeException(nameof(MinSoak), MinSoak, $"must be from 0 to {MaxSoakSeconds} seconds");
}

/// <summary>One step of a plan: it reaches <see cref="Percentage"/> % of the rollout's devices (its stable
/// buckets), or adds <see cref="Groups"/> to the groups the earlier phases reached.</summary>
public sealed class RolloutPhase
{
    private RolloutPhase(int? percentage, FrozenSet<string> groups, PhaseGates gates)
    {
        Percentage = percentage;
        Groups = groups;
        Gates = gates;
    }

    /// <summary>Set for a percentage phase, null for a group phase.</summary>
    public int? Percentage { get; }

    /// <summary>The groups this phase adds; empty for a percentage phase.</summary>
    public IReadOnlySet<string> Groups { get; }

    public PhaseGates Gates { get; }

    public static RolloutPhase ToPercentage(int percentage, PhaseGates? gates = null)
    {
        if (percentage is < 1 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(percentage), percentage, "a phase reaches 1 to 100 %");
        }

        return new RolloutPhase(percentage, FrozenSet<string>.Empty, gates ?? PhaseGates.None);
    }

    public static RolloutPhase ToGroups(IEnumerable<string> groups, PhaseGates? gates = null)
    {
        var set = groups.ToFrozenSet(StringComparer.Ordinal);
        if (set.Count == 0)
        {
            throw new ArgumentException("a group phase names at least one group", nameof(groups));
        }

        return new RolloutPhase(null, set, gates ?? PhaseGates.None);
    }

    /// <summary>"10 %" or "groups a, b".</summary>
    public string Reach => Percentage is { } p
        ? $"{p} %"
        : "groups " + string.Join(", ", Groups.Order(StringComparer.Ordinal));
}

/// <summary>A phase as an operator sent it, before the plan's rules are applied.</summary>
/// <param name="MinSoakSeconds">Seconds the phase runs at least before it may advance.</param>
public sealed record PhaseInput(int? Percentage, IReadOnlyList<string>? Groups, int? MinConfirmed, decimal? MaxFailurePercent, int? MinSoakSeconds);

/// <summary>
/// A phased rollout's plan: its phases in order, each reaching more devices than the one before, so that a
/// device reached in one phase stays reached in every later one (percentages only rise over the same
/// stable buckets; group phases only add groups). Whether the current phase may advance, must hold or
/// makes the rollout halt is decided by <see cref="Decide"/> from the rollout's health figures and a clock.
/// </summary>
public sealed class RolloutPlan
{
    public const string Field = "phases";
    public const int MaxPhases = 20;

    private RolloutPlan(IReadOnlyList<RolloutPhase> phases) => Phases = phases;

    public IReadOnlyList<RolloutPhase> Phases { get; }

    /// <summary>Percentage phases (true) or group phases (false); a plan never mixes them.</summary>
    public bool ByPercentage => Phases[0].Percentage is not null;

    public int Count => Phases.Count;

    /// <summary>Builds a plan from the phases an operator sent for a rollout of <paramref name="targetType"/>,
    /// or says what is wrong, each problem named as on the wire (<c>phases[2].min_confirmed</c>).</summary>
    public static (RolloutPlan? Plan, IReadOnlyList<FieldError> Errors) Create(TargetType targetType, IReadOnlyList<PhaseInput?>? phases)
    {
        List<FieldError> errors = [];
        if (phases is null || phases.Count == 0)
        {
            errors.Add(new FieldError(Field, "a plan needs at least one phase"));
            return (null, errors);
        }

        if (phases.Count > MaxPhases)
        {
            errors.Add(new FieldError(Field, $"a plan has at most {MaxPhases} phases, got {phases.Count}"));
            return (null, errors);
        }

        if (targetType == TargetType.Specific)
        {
            errors.Add(new FieldError(Field, "a specific rollout lists its devices and has no phases; phases need target_type canary, all or group"));
            return (null, errors);
        }

        var built = new List<RolloutPhase>(phases.Count);
        var byPercentage = phases[0] is { Percentage: not null };
        int? previousPercentage = null;
        var seenGroups = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < phases.Count; i++)
        {
            var at = $"{Field}[{i}]";
            if (phases[i] is not { } phase)
            {
                errors.Add(new FieldError(at, "a phase must be an object"));
                continue;
            }

            var count = errors.Count;
            var gates = Gates(phase, at, errors);
            if (phase.Percentage is not null && phase.Groups is not null)
            {
                errors.Add(new FieldError(at, "a phase gives percentage or groups, not both"));
            }
            else if (phase.Percentage is null && phase.Groups is null)
            {
                errors.Add(new FieldError(at, "a phase gives percentage (of the rollout's devices) or groups (added to the earlier phases')"));
            }
            else if (phase.Percentage is { } percentage)
            {
                if (!byPercentage)
                {
                    errors.Add(new FieldError($"{at}.percentage", "the first phase gives groups, so every phase gives groups; a plan does not mix the two"));
                }
                else if (percentage is < 1 or > 100)
                {
                    errors.Add(new FieldError($"{at}.percentage", $"a phase reaches 1 to 100 % of the devices, got {percentage}"));
                }
                else if (previousPercentage is { } before && percentage <= before)
                {
                    errors.Add(new FieldError($"{at}.percentage",
                        $"each phase must reach more devices than the one before: {percentage} % is not above phase {i}'s {before} %"));
                }
                else
                {
                    previousPercentage = percentage;
                }
            }
            else
            {
                GroupPhase(phase.Groups!, targetType, byPercentage, at, seenGroups, errors);
            }

            if (errors.Count == count)
            {
                built.Add(phase.Percentage is { } p ? RolloutPhase.ToPercentage(p, gates) : RolloutPhase.ToGroups(phase.Groups!, gates));
            }
        }

        return errors.Count > 0 ? (null, errors) : (new RolloutPlan(built), errors);
    }

    /// <summary>Rebuilds a stored plan; the input rules are not re-applied beyond what keeps it sound.</summary>
    public static RolloutPlan Restore(IReadOnlyList<RolloutPhase> phases)
    {
        ArgumentNullException.ThrowIfNull(phases);
        if (phases.Count == 0)
        {
            throw new ArgumentException("a stored plan has at least one phase", nameof(phases));
        }

        if (phases.Any(p => (p.Percentage is null) != (phases[0].Percentage is null)))
        {
            throw new ArgumentException("a stored plan mixes percentage and group phases", nameof(phases));
        }

        return new RolloutPlan([.. phases]);
    }

    /// <summary>The percentage phase <paramref name="index"/> reaches, or null for group phases.</summary>
    public int? PercentageAt(int index) => Phases[index].Percentage;

    /// <summary>Every group reached once phase <paramref name="index"/> runs: its own and the earlier phases'.</summary>
    public IReadOnlyList<string> GroupsThrough(int index) =>
        [.. Phases.Take(index + 1).SelectMany(p => p.Groups).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The first phase whose reach includes the device (the one it comes in at, and stays in), or -1
    /// when no phase reaches it.</summary>
    public int PhaseReaching(string rolloutName, string deviceId, IReadOnlyCollection<string> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        for (var i = 0; i < Phases.Count; i++)
        {
            var phase = Phases[i];
            var reached = phase.Percentage is { } p
                ? PercentageBucket.Includes(rolloutName, deviceId, p)
                : groups.Any(phase.Groups.Contains);
            if (reached)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// The one decision about a running phase, from the rollout's figures and the clock:
    /// <list type="bullet">
    /// <item>halt when its failure gate fails once there is enough to judge: the rollout's minimum attempts
    /// (its threshold's), or the other gates are met (the phase is due, and a rate above its maximum must
    /// not go on to more devices);</item>
    /// <item>otherwise advance when every gate is met and no operator holds the phase;</item>
    /// <item>otherwise hold (gates not yet met, or held); the last phase is final: nothing to advance to.</item>
    /// </list>
    /// </summary>
    public PhaseDecision Decide(int index, DateTimeOffset startedAt, string? heldBy, RolloutCounts counts, FailureThreshold threshold, DateTimeOffset now)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Phases.Count);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(threshold);

        var phase = Phases[index];
        var gates = phase.Gates;
        var name = $"phase {index + 1} of {Phases.Count} ({phase.Reach})";

        var confirmedMet = counts.Confirmed >= gates.MinConfirmed;
        var confirmed = new GateCheck(
            GateCheck.MinConfirmed, confirmedMet, gates.MinConfirmed, counts.Confirmed,
            $"{counts.Confirmed} confirmed boots of the {gates.MinConfirmed} needed");

        var maxRate = gates.MaxFailurePercent ?? threshold.Percent;
        var rate = RolloutHealth.FailureRatePercent(counts);
        var rateMet = !RolloutHealth.FailuresAbove(counts, maxRate);
        var failures = new GateCheck(
            GateCheck.MaxFailurePercent, rateMet, maxRate, Math.Round(rate, 2),
            $"{RolloutHealth.Figures(counts)}, {(rateMet ? "within" : "above")} the phase's {RolloutHealth.Percent(maxRate)} % maximum");

        var soaked = now - startedAt;
        if (soaked < TimeSpan.Zero)
        {
            soaked = TimeSpan.Zero;
        }

        var soakMet = soaked >= gates.MinSoak;
        var soak = new GateCheck(
            GateCheck.MinSoakSeconds, soakMet, (decimal)gates.MinSoak.TotalSeconds, Math.Floor((decimal)soaked.TotalSeconds),
            $"running for {Duration(soaked)} of the {Duration(gates.MinSoak)} soak");

        IReadOnlyList<GateCheck> checks = [confirmed, failures, soak];
        var due = confirmedMet && soakMet;
        if (!rateMet && (counts.Attempts >= threshold.MinimumAttempts || due))
        {
            return new PhaseDecision(PhaseAction.Halt, $"halted in {name}: its failure gate failed: {failures.Detail}", checks);
        }

        if (index == Phases.Count - 1)
        {
            return new PhaseDecision(PhaseAction.Final, $"{name} is the last phase: nothing to advance to", checks);
        }

        var next = $"phase {index + 2} ({Phases[index + 1].Reach})";
        if (!due || !rateMet)
        {
            var waiting = string.Join("; ", checks.Where(c => !c.Met).Select(c => c.Detail));
            return new PhaseDecision(PhaseAction.Hold, $"{name} waits for its gates before {next}: {waiting}", checks);
        }

        return heldBy is not null
            ? new PhaseDecision(PhaseAction.Hold, $"{name} has met its gates but is held ({heldBy}); {next} waits for a manual advance or release", checks)
            : new PhaseDecision(PhaseAction.Advance, $"{name} met its gates ({confirmed.Detail}; {failures.Detail}; {soak.Detail}): advancing to {next}", checks);
    }

    private static PhaseGates? Gates(PhaseInput phase, string at, List<FieldError> errors)
    {
        var count = errors.Count;
        if (phase.MinConfirmed is { } confirmed && confirmed is < 0 or > PhaseGates.MaxConfirmed)
        {
            errors.Add(new FieldError($"{at}.min_confirmed", $"the minimum of confirmed boots must be from 0 to {PhaseGates.MaxConfirmed}, got {confirmed}"));
        }

        if (phase.MaxFailurePercent is { } percent && percent is < 0m or > 100m)
        {
            errors.Add(new FieldError($"{at}.max_failure_percent", $"the maximum failure rate must be from 0 to 100 %, got {percent}"));
        }

        if (phase.MinSoakSeconds is { } soak && soak is < 0 or > PhaseGates.MaxSoakSeconds)
        {
            errors.Add(new FieldError($"{at}.min_soak_seconds", $"the soak must be from 0 to {PhaseGates.MaxSoakSeconds} seconds (30 days), got {soak}"));
        }

        return errors.Count > count
            ? null
            : new PhaseGates(phase.MinConfirmed ?? 0, phase.MaxFailurePercent, TimeSpan.FromSeconds(phase.MinSoakSeconds ?? 0));
    }

    private static void GroupPhase(
        IReadOnlyList<string> groups, TargetType targetType, bool byPercentage, string at, HashSet<string> seen, List<FieldError> errors)
    {
        var field = $"{at}.groups";
        if (byPercentage)
        {
            errors.Add(new FieldError(field, "the first phase gives a percentage, so every phase gives one; a plan does not mix the two"));
            return;
        }

        if (targetType != TargetType.Group)
        {
            errors.Add(new FieldError(field, $"group phases need target_type 'group', not '{targetType.ToWire()}'"));
            return;
        }

        if (groups.Count == 0)
        {
            errors.Add(new FieldError(field, "a group phase names at least one group"));
        }

        foreach (var group in groups)
        {
            if (!GroupName.IsValid(group, out var error))
            {
                errors.Add(new FieldError(field, error));
            }
            else if (!seen.Add(group))
            {
                errors.Add(new FieldError(field, $"group '{group}' is already reached by an earlier phase (or named twice); each phase adds new groups"));
            }
        }
    }

    private static string Duration(TimeSpan span) => span.TotalSeconds < 120
        ? $"{Math.Floor(span.TotalSeconds).ToString(CultureInfo.InvariantCulture)} s"
        : span.TotalMinutes < 120
            ? $"{Math.Floor(span.TotalMinutes).ToString(CultureInfo.InvariantCulture)} min"
            : $"{Math.Round(span.TotalHours, 1).ToString(CultureInfo.InvariantCulture)} h";
}

/// <summary>What the current phase's gates say now.</summary>
public enum PhaseAction
{
    /// <summary>Every gate is met and nothing holds the phase: move on to the next one.</summary>
    Advance,

    /// <summary>Stay in the phase: a gate is not met yet, or an operator holds it.</summary>
    Hold,

    /// <summary>The failure gate failed with enough to judge: the rollout halts.</summary>
    Halt,

    /// <summary>The last phase runs: there is nothing to advance to.</summary>
    Final,
}

/// <param name="Gate">min_confirmed, max_failure_percent or min_soak_seconds.</param>
/// <param name="Required">The gate's figure (confirmed boots, percent, seconds).</param>
/// <param name="Actual">The rollout's figure now.</param>
/// <param name="Detail">Both in a sentence.</param>
public sealed record GateCheck(string Gate, bool Met, decimal Required, decimal Actual, string Detail)
{
    public const string MinConfirmed = "min_confirmed";
    public const string MaxFailurePercent = "max_failure_percent";
    public const string MinSoakSeconds = "min_soak_seconds";
}

/// <param name="Reason">The decision in a sentence with its figures, fit for an audit entry or a halt reason.</param>
public sealed record PhaseDecision(PhaseAction Action, string Reason, IReadOnlyList<GateCheck> Gates);

/// <summary>Where a phased rollout stands in its plan.</summary>
/// <param name="Index">The current phase, from 0.</param>
/// <param name="StartedAt">When the current phase began (its soak counts from here).</param>
/// <param name="HeldBy">Set while an operator holds the rollout in its phase: it does not advance by itself.</param>
public sealed record RolloutPhasing(RolloutPlan Plan, int Index, DateTimeOffset StartedAt, string? HeldBy)
{
    public int Index { get; } = Index >= 0 && Index < Plan.Count
        ? Index
        : throw new ArgumentOutOfRangeException(nameof(Index), Index, $"the plan has {Plan.Count} phases");

    public RolloutPhase Current => Plan.Phases[Index];

    public bool IsLast => Index == Plan.Count - 1;

    public PhaseDecision Decide(RolloutCounts counts, FailureThreshold threshold, DateTimeOffset now) =>
        Plan.Decide(Index, StartedAt, HeldBy, counts, threshold, now);
}

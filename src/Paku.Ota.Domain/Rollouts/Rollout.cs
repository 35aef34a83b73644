using System.Diagnostics.CodeAnalysis;
using Paku.Ota.Domain.Devices;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>
/// Which devices of one model are offered one firmware version. Active unless paused by an
/// operator or halted by its own failure threshold; <see cref="PauseReason"/> says which.
/// </summary>
public sealed class Rollout
{
    public const int MaxSpecificDevices = 10_000;

    public const string NameField = "name";
    public const string DeviceModelField = "device_model";
    public const string TargetTypeField = "target_type";
    public const string DeviceIdsField = "target_filter.device_ids";
    public const string GroupsField = "target_filter.groups";
    public const string PercentageField = "rollout_percentage";

    // Enough to fix the first few; a list of 10,000 bad ids helps nobody.
    private const int ReportedInvalidValues = 5;

    private Rollout(
        string name,
        string deviceModel,
        FirmwareVersion version,
        TargetType targetType,
        TargetFilter filter,
        int percentage,
        bool isActive,
        bool allowDowngrade,
        FailureThreshold threshold,
        string? pauseReason,
        bool isHalted,
        AttemptDeadline deadline,
        RolloutPhasing? phasing,
        WindowSchedule windows,
        Pace pace)
    {
        Name = name;
        DeviceModel = deviceModel;
        Version = version;
        TargetType = targetType;
        Filter = filter;
        Percentage = percentage;
        IsActive = isActive;
        AllowDowngrade = allowDowngrade;
        Threshold = threshold;
        PauseReason = pauseReason;
        IsHalted = isHalted;
        Deadline = deadline;
        Phasing = phasing;
        Windows = windows;
        Pace = pace;
    }

    public string Name { get; }
    public string DeviceModel { get; }
    public FirmwareVersion Version { get; }
    public TargetType TargetType { get; }
    public TargetFilter Filter { get; private set; }

    /// <summary>0–100. Ignored by <see cref="TargetType.Specific"/>, which targets every listed device.</summary>
    public int Percentage { get; private set; }

    public bool IsActive { get; private set; }
    public bool AllowDowngrade { get; }
    public FailureThreshold Threshold { get; private set; }

    /// <summary>Why the rollout is inactive, as given to <see cref="Pause"/> or <see cref="Halt"/>.</summary>
    public string? PauseReason { get; private set; }

    /// <summary>Stopped by its own failure threshold rather than by an operator.</summary>
    public bool IsHalted { get; private set; }

    /// <summary>Active unless stopped; stopped by its own threshold is halted, by anything else paused.</summary>
    public RolloutState State => IsActive ? RolloutState.Active : IsHalted ? RolloutState.Halted : RolloutState.Paused;

    /// <summary>How long its devices may stay silent in each step of an attempt before it times out.</summary>
    public AttemptDeadline Deadline { get; private set; }

    /// <summary>The plan of phases and where the rollout stands in it; null for a rollout without a plan,
    /// which an operator widens by hand as before. While set, the plan owns the percentage (percentage
    /// phases) or the groups (group phases).</summary>
    public RolloutPhasing? Phasing { get; private set; }

    /// <summary>When it may start new attempts; <see cref="WindowSchedule.Always"/> when it has no windows.</summary>
    public WindowSchedule Windows { get; private set; }

    /// <summary>How fast it may start new attempts; <see cref="Rollouts.Pace.None"/> when unpaced.</summary>
    public Pace Pace { get; private set; }

    public static RolloutCreation Create(
        string? name,
        string? deviceModel,
        FirmwareVersion version,
        TargetType targetType,
        TargetFilter? filter,
        int percentage,
        bool isActive = true,
        bool allowDowngrade = false,
        FailureThreshold? threshold = null,
        AttemptDeadline? deadline = null,
        RolloutPlan? plan = null,
        DateTimeOffset phaseStartedAt = default,
        WindowSchedule? windows = null,
        Pace? pace = null)
    {
        ArgumentNullException.ThrowIfNull(version);
        filter ??= TargetFilter.None;

        List<FieldError> errors = [];
        if (plan is not null)
        {
            errors.AddRange(ValidatePlanTargeting(plan, percentage, filter));
            if (!plan.ByPercentage && filter.IsEmpty)
            {
                filter = TargetFilter.ForGroups(plan.GroupsThrough(0));
            }
        }

        if (!RolloutName.IsValid(name, out var nameError))
        {
            errors.Add(new FieldError(NameField, nameError));
        }

        if (!Devices.DeviceModel.IsValid(deviceModel, out var modelError))
        {
            errors.Add(new FieldError(DeviceModelField, modelError));
        }

        errors.AddRange(ValidateFilter(targetType, filter));
        if (ValidatePercentage(percentage) is { } percentageError)
        {
            errors.Add(percentageError);
        }

        if (errors.Count > 0)
        {
            return new RolloutCreation(null, errors);
        }

        var rollout = new Rollout(
            name!, deviceModel!, version, targetType, filter, percentage, isActive, allowDowngrade,
            threshold ?? FailureThreshold.Default, pauseReason: null, isHalted: false, deadline ?? AttemptDeadline.Default,
            plan is null ? null : new RolloutPhasing(plan, 0, phaseStartedAt, HeldBy: null),
            windows ?? WindowSchedule.Always, pace ?? Pace.None);
        return new RolloutCreation(rollout, []);
    }

    /// <summary>
    /// Rebuilds a stored rollout. Input rules (name characters, the device-id limit…) are not
    /// re-applied: a rollout created under older rules must still load.
    /// </summary>
    public static Rollout Restore(
        string name,
        string deviceModel,
        FirmwareVersion version,
        TargetType targetType,
        TargetFilter filter,
        int percentage,
        bool isActive,
        bool allowDowngrade,
        FailureThreshold threshold,
        string? pauseReason,
        bool isHalted,
        AttemptDeadline? deadline = null,
        RolloutPhasing? phasing = null,
        WindowSchedule? windows = null,
        Pace? pace = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(deviceModel);
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(threshold);
        if (!Enum.IsDefined(targetType))
        {
            throw new ArgumentOutOfRangeException(nameof(targetType), targetType, "not a target type");
        }

        GuardPercentage(percentage);

        // Operators flip is_active in SQL (the seed's runbook does); an active row is then
        // simply active, whatever halt or pause it carried before.
        return new Rollout(
            name, deviceModel, version, targetType, filter, percentage, isActive, allowDowngrade, threshold,
            pauseReason: isActive ? null : pauseReason,
            isHalted: isHalted && !isActive,
            deadline ?? AttemptDeadline.Default,
            phasing,
            windows ?? WindowSchedule.Always,
            pace ?? Pace.None);
    }

    /// <summary>How a plan and the targeting an operator sent fit together: a percentage plan starts at its
    /// first phase's percentage, and a group plan names its groups itself.</summary>
    public static IReadOnlyList<FieldError> ValidatePlanTargeting(RolloutPlan plan, int percentage, TargetFilter filter)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(filter);
        List<FieldError> errors = [];
        if (plan.PercentageAt(0) is { } first && percentage != first)
        {
            errors.Add(new FieldError(PercentageField,
                $"a phased rollout starts at its first phase's {first} %, not {percentage} %; leave rollout_percentage out"));
        }

        if (!plan.ByPercentage && !filter.IsEmpty)
        {
            errors.Add(new FieldError(GroupsField, "a rollout with group phases takes its groups from phases[].groups; leave target_filter out"));
        }

        return errors;
    }

    /// <summary>Why an operator may not set the percentage or the filter by hand, or null when they may:
    /// while a plan runs, it owns the part of the targeting its phases give.</summary>
    public FieldError? ManualTargetingProblem(bool percentage, bool filter)
    {
        if (Phasing is not { } phasing)
        {
            return null;
        }

        var where = $"rollout '{Name}' follows its plan (phase {phasing.Index + 1} of {phasing.Plan.Count}, {phasing.Current.Reach})";
        const string how = "advance it (POST …/advance) or send \"phases\": [] to drop the plan first";
        if (percentage && phasing.Plan.ByPercentage)
        {
            return new FieldError(PercentageField, $"{where}, which sets its percentage; {how}");
        }

        return filter && !phasing.Plan.ByPercentage ? new FieldError(GroupsField, $"{where}, which sets its groups; {how}") : null;
    }

    /// <summary>
    /// Moves to the next phase of the plan, reaching its percentage or adding its groups; every device
    /// reached so far stays reached. The one change an advance makes, automatic or manual.
    /// </summary>
    public void AdvancePhase(DateTimeOffset now)
    {
        if (Phasing is not { } phasing)
        {
            throw new InvalidOperationException($"Rollout '{Name}' has no plan of phases.");
        }

        if (phasing.IsLast)
        {
            throw new InvalidOperationException($"Rollout '{Name}' is in its last phase.");
        }

        Phasing = new RolloutPhasing(phasing.Plan, phasing.Index + 1, now, phasing.HeldBy);
        ApplyPhase();
    }

    /// <summary>An operator keeps the rollout in its phase: it goes on offering the phase's reach but does
    /// not advance by itself (a manual advance still does). Pausing, by contrast, stops offering.</summary>
    public void HoldPhase(string heldBy)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(heldBy);
        Phasing = (Phasing ?? throw new InvalidOperationException($"Rollout '{Name}' has no plan of phases.")) with { HeldBy = heldBy };
    }

    public void ReleasePhase() =>
        Phasing = (Phasing ?? throw new InvalidOperationException($"Rollout '{Name}' has no plan of phases.")) with { HeldBy = null };

    /// <summary>
    /// Sets, replaces or (null) drops the plan of a running rollout. The rollout enters the first phase that
    /// reaches at least every device it reaches now, so nobody already reached is dropped; when no phase
    /// does, nothing changes and the problem is returned.
    /// </summary>
    public FieldError? ChangePlan(RolloutPlan? plan, DateTimeOffset now)
    {
        if (plan is null)
        {
            Phasing = null;
            return null;
        }

        int index;
        if (plan.ByPercentage)
        {
            index = Enumerable.Range(0, plan.Count).FirstOrDefault(i => plan.PercentageAt(i) >= Percentage, -1);
            if (index < 0)
            {
                return new FieldError(RolloutPlan.Field,
                    $"rollout '{Name}' already reaches {Percentage} %; a plan must end at {Percentage} % or above so that no device is dropped");
            }
        }
        else
        {
            if (TargetType != TargetType.Group)
            {
                return new FieldError(RolloutPlan.Field, $"group phases need target_type 'group'; rollout '{Name}' is '{TargetType.ToWire()}'");
            }

            index = Enumerable.Range(0, plan.Count).FirstOrDefault(i => Filter.Groups.IsSubsetOf(plan.GroupsThrough(i)), -1);
            if (index < 0)
            {
                return new FieldError(RolloutPlan.Field,
                    $"rollout '{Name}' already reaches groups {string.Join(", ", Filter.Groups.Order(StringComparer.Ordinal))}; the plan's phases must include them so that no device is dropped");
            }
        }

        Phasing = new RolloutPhasing(plan, index, now, Phasing?.HeldBy);
        ApplyPhase();
        return null;
    }

    /// <summary>Widens the targeting to the current phase's reach, never narrows it: a rollout widened
    /// outside the plan (an operator's SQL, say) keeps every device it reaches.</summary>
    private void ApplyPhase()
    {
        var phasing = Phasing!;
        if (phasing.Plan.PercentageAt(phasing.Index) is { } percentage)
        {
            RaiseTo(Math.Max(Percentage, percentage));
        }
        else
        {
            Filter = TargetFilter.ForGroups(phasing.Plan.GroupsThrough(phasing.Index).Union(Filter.Groups, StringComparer.Ordinal));
        }
    }

    public static FieldError? ValidatePercentage(int percentage) =>
        percentage is >= 0 and <= 100
            ? null
            : new FieldError(PercentageField, $"the rollout percentage must be between 0 and 100, got {percentage}");

    /// <summary>Whether <paramref name="filter"/> suits <paramref name="targetType"/>; empty when it does.</summary>
    public static IReadOnlyList<FieldError> ValidateFilter(TargetType targetType, TargetFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        List<FieldError> errors = [];
        switch (targetType)
        {
            case TargetType.Specific:
                if (filter.DeviceIds.Count == 0)
                {
                    errors.Add(new FieldError(DeviceIdsField, "a specific rollout needs at least one device id"));
                }
                else if (filter.DeviceIds.Count > MaxSpecificDevices)
                {
                    errors.Add(new FieldError(
                        DeviceIdsField,
                        $"a specific rollout may list at most {MaxSpecificDevices} device ids, got {filter.DeviceIds.Count}"));
                }

                AddInvalid(errors, DeviceIdsField, filter.DeviceIds, "device ids", DeviceId.IsValid);
                if (filter.Groups.Count > 0)
                {
                    errors.Add(new FieldError(GroupsField, "a specific rollout lists device ids only; to target groups use target_type 'group'"));
                }

                break;

            case TargetType.Group:
                if (filter.Groups.Count == 0)
                {
                    errors.Add(new FieldError(GroupsField, "a group rollout needs at least one group"));
                }

                AddInvalid(errors, GroupsField, filter.Groups, "groups", GroupName.IsValid);
                if (filter.DeviceIds.Count > 0)
                {
                    errors.Add(new FieldError(DeviceIdsField, "a group rollout lists groups only; to target devices by id use target_type 'specific'"));
                }

                break;

            case TargetType.Canary or TargetType.All:
                var kind = targetType == TargetType.All ? "an all" : "a canary";
                // Refused rather than ignored: "all" with a group list silently reaching every device would be a disaster.
                if (filter.DeviceIds.Count > 0)
                {
                    errors.Add(new FieldError(DeviceIdsField, $"{kind} rollout takes no device ids; to target devices by id use target_type 'specific'"));
                }

                if (filter.Groups.Count > 0)
                {
                    errors.Add(new FieldError(GroupsField, $"{kind} rollout takes no groups; to target groups use target_type 'group'"));
                }

                break;

            default:
                errors.Add(new FieldError(TargetTypeField, $"the target type must be one of {TargetTypes.WireNames}"));
                break;
        }

        return errors;
    }

    private delegate bool Validator(string? value, [NotNullWhen(false)] out string? error);

    private static void AddInvalid(List<FieldError> errors, string field, IReadOnlySet<string> values, string what, Validator isValid)
    {
        var invalid = 0;
        foreach (var value in values.Order(StringComparer.Ordinal))
        {
            if (isValid(value, out var error) || ++invalid > ReportedInvalidValues)
            {
                continue;
            }

            errors.Add(new FieldError(field, error));
        }

        if (invalid > ReportedInvalidValues)
        {
            errors.Add(new FieldError(field, $"… and {invalid - ReportedInvalidValues} more invalid {what}"));
        }
    }

    public void ChangePercentage(int percentage)
    {
        GuardPercentage(percentage);
        Percentage = percentage;
    }

    /// <summary>Widens the rollout; every device already inside stays inside.</summary>
    public void RaiseTo(int percentage)
    {
        GuardPercentage(percentage);
        if (percentage < Percentage)
        {
            throw new ArgumentOutOfRangeException(
                nameof(percentage), percentage, $"cannot raise rollout '{Name}' from {Percentage} % to {percentage} %");
        }

        Percentage = percentage;
    }

    public void LowerTo(int percentage)
    {
        GuardPercentage(percentage);
        if (percentage > Percentage)
        {
            throw new ArgumentOutOfRangeException(
                nameof(percentage), percentage, $"cannot lower rollout '{Name}' from {Percentage} % to {percentage} %");
        }

        Percentage = percentage;
    }

    /// <summary>An operator stops the rollout. A halted rollout stays halted, with its halt reason.</summary>
    public void Pause(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (IsHalted)
        {
            return;
        }

        IsActive = false;
        PauseReason = reason;
    }

    /// <summary>The rollout stops itself. Returns false when it was already halted (the first reason is kept).</summary>
    public bool Halt(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (IsHalted)
        {
            return false;
        }

        IsActive = false;
        IsHalted = true;
        PauseReason = reason;
        return true;
    }

    /// <summary>Active again, whether it was paused or halted.</summary>
    public void Resume()
    {
        IsActive = true;
        IsHalted = false;
        PauseReason = null;
    }

    /// <summary>Replaces the filter; throws when it does not suit the target type (see <see cref="ValidateFilter"/>).</summary>
    public void ChangeFilter(TargetFilter filter)
    {
        var errors = ValidateFilter(TargetType, filter);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(filter));
        }

        Filter = filter;
    }

    public void ChangeThreshold(FailureThreshold threshold)
    {
        ArgumentNullException.ThrowIfNull(threshold);
        Threshold = threshold;
    }

    public void ChangeDeadline(AttemptDeadline deadline)
    {
        ArgumentNullException.ThrowIfNull(deadline);
        Deadline = deadline;
    }

    /// <summary>Replaces the windows; an empty schedule lets the rollout start attempts at any time.</summary>
    public void ChangeWindows(WindowSchedule windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        Windows = windows;
    }

    public void ChangePace(Pace pace)
    {
        ArgumentNullException.ThrowIfNull(pace);
        Pace = pace;
    }

    /// <summary>
    /// Whether this rollout's targeting reaches the device: listed (specific), or inside the
    /// percentage (canary, all) and, for group, also in at least one of the groups. Says nothing
    /// about model, activity or versions; <c>UpdateSelection</c> weighs those.
    /// </summary>
    public bool Targets(string deviceId, IReadOnlyCollection<string> groups) =>
        TargetingOf(deviceId, groups, out _) == Targeting.Targeted;

    internal enum Targeting
    {
        Targeted,
        NotListed,
        NoGroups,
        NotInGroup,
        OutsidePercentage,
    }

    /// <param name="bucket">The device's bucket when the percentage decided, otherwise -1.</param>
    internal Targeting TargetingOf(string deviceId, IReadOnlyCollection<string> groups, out int bucket)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        ArgumentNullException.ThrowIfNull(groups);
        bucket = -1;
        switch (TargetType)
        {
            case TargetType.Specific:
                return Filter.Lists(deviceId) ? Targeting.Targeted : Targeting.NotListed;
            case TargetType.Group when groups.Count == 0:
                return Targeting.NoGroups;
            case TargetType.Group when !Filter.SharesAGroupWith(groups):
                return Targeting.NotInGroup;
        }

        if (Percentage == 100)
        {
            return Targeting.Targeted;
        }

        // Same rule as PercentageBucket.Includes, with the bucket kept for explanations.
        bucket = PercentageBucket.Of(Name, deviceId);
        return bucket < Percentage * (PercentageBucket.Count / 100) ? Targeting.Targeted : Targeting.OutsidePercentage;
    }

    private static void GuardPercentage(int percentage)
    {
        if (ValidatePercentage(percentage) is { } error)
        {
            throw new ArgumentOutOfRangeException(nameof(percentage), percentage, error.Message);
        }
    }
}

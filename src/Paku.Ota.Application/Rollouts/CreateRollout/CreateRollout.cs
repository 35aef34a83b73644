using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Rollouts.CreateRollout;

/// <summary>An operator creates a rollout (the seed's RolloutConfig, plus allow_downgrade and a failure
/// threshold, attempt deadlines and a plan of phases). Missing optional fields take the seed's defaults:
/// 100 % (a phased rollout: its first phase's percentage), active, no downgrade, no plan.</summary>
/// <param name="Actor">The API key's name, recorded as the creator.</param>
public sealed record CreateRollout(
    string? Name,
    string? FirmwareVersion,
    string? DeviceModel,
    string? TargetType,
    TargetFilterInput? TargetFilter,
    int? RolloutPercentage,
    bool? IsActive,
    bool? AllowDowngrade,
    FailureThresholdInput? FailureThreshold,
    AttemptDeadlineInput? AttemptDeadline,
    string Actor,
    IReadOnlyList<PhaseInput?>? Phases = null) : ICommand<Result<RolloutView>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);

    public const int DefaultPercentage = 100;

    /// <summary>The percentage the rollout starts at: as sent, else the plan's first phase's, else 100.</summary>
    public static int StartPercentage(int? sent, RolloutPlan? plan) => sent ?? plan?.PercentageAt(0) ?? DefaultPercentage;

    /// <summary>Maintenance windows; none (the default) lets the rollout start attempts at any time.</summary>
    public IReadOnlyList<WindowInput>? Windows { get; init; }

    /// <summary>How fast it may start attempts; none (the default) is unpaced.</summary>
    public PaceInput? Pace { get; init; }
}

public sealed class CreateRolloutHandler(IRolloutStore rollouts, IRolloutQueries queries, TimeProvider time)
    : ICommandHandler<CreateRollout, Result<RolloutView>>
{
    public async ValueTask<Result<RolloutView>> Handle(CreateRollout command, CancellationToken cancellationToken)
    {
        var model = command.DeviceModel!;
        var requested = FirmwareVersion.Parse(command.FirmwareVersion!);
        var release = await rollouts.FindReleaseAsync(model, requested, cancellationToken);
        if (release is null)
        {
            return Error.NotFound($"There is no release {requested} for device model '{model}'; upload it before creating a rollout for it.");
        }

        if (release.WithdrawnAt is { } withdrawnAt)
        {
            var reason = string.IsNullOrWhiteSpace(release.WithdrawnReason) ? "no reason was given" : $"reason: {release.WithdrawnReason}";
            return Error.Unprocessable(
                $"Release {release.Version} for device model '{model}' was withdrawn on {withdrawnAt:u} ({reason}); a rollout cannot offer it.");
        }

        TargetTypes.TryParse(command.TargetType, out var targetType);
        var plan = command.Phases is null ? null : RolloutPlan.Create(targetType, command.Phases).Plan;
        var threshold = new FailureThreshold(
            command.FailureThreshold?.Percent ?? FailureThreshold.Default.Percent,
            command.FailureThreshold?.MinimumAttempts ?? FailureThreshold.Default.MinimumAttempts);
        var creation = Rollout.Create(
            command.Name, model, release.Version, targetType,
            command.TargetFilter?.ToFilter(),
            CreateRollout.StartPercentage(command.RolloutPercentage, plan),
            isActive: true,
            allowDowngrade: command.AllowDowngrade ?? false,
            threshold,
            command.AttemptDeadline?.Over(AttemptDeadline.Default),
            plan,
            time.GetUtcNow(),
            windows: command.Windows is { } windows ? WindowInput.ToSchedule(windows).Schedule : null,
            pace: command.Pace?.ToPace());
        if (!creation.Succeeded)
        {
            return RolloutRules.ToError(creation.Errors);
        }

        var rollout = creation.Rollout;
        if (command.IsActive == false)
        {
            rollout.Pause($"created paused by {command.Actor}");
        }

        if (!await rollouts.AddAsync(rollout, release.Id, command.Actor, rolloutEvent: null, cancellationToken))
        {
            return Error.Conflict($"A rollout named '{rollout.Name}' already exists; rollout names are unique.");
        }

        var view = await queries.GetAsync(rollout.Name, cancellationToken);
        return view is null ? Error.NotFound($"Rollout '{rollout.Name}' was removed right after it was created.") : view;
    }
}

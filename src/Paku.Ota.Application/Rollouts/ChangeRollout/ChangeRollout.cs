using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Application.Rollouts.ChangeRollout;

/// <summary>An operator changes a rollout (the seed's PATCH): any of percentage, activity, filter and
/// failure threshold, attempt deadlines and plan of phases; a null field is left as it is.</summary>
/// <param name="Phases">A new plan (the rollout enters its first phase that keeps every device reached so
/// far), or an empty list to drop the plan.</param>
/// <param name="IsActive">false pauses the rollout ("paused by &lt;actor&gt;"); true resumes it, halted or paused.</param>
/// <param name="Actor">The API key's name, given as the reason of a pause.</param>
public sealed record ChangeRollout(
    string? Name,
    int? RolloutPercentage,
    bool? IsActive,
    TargetFilterInput? TargetFilter,
    FailureThresholdInput? FailureThreshold,
    AttemptDeadlineInput? AttemptDeadline,
    string Actor,
    IReadOnlyList<PhaseInput?>? Phases = null) : ICommand<Result<RolloutView>>
{
    public const string Fields = "rollout_percentage, is_active, target_filter, failure_threshold, attempt_deadline, phases, windows, pace";

    /// <summary>Replaces the windows as a whole; an empty list removes them.</summary>
    public IReadOnlyList<WindowInput>? Windows { get; init; }

    /// <summary>Replaces the pace as a whole; an empty one removes pacing.</summary>
    public PaceInput? Pace { get; init; }

    public bool ChangesNothing =>
        RolloutPercentage is null && IsActive is null && TargetFilter is null && FailureThreshold is null && AttemptDeadline is null && Phases is null
        && Windows is null && Pace is null;
}

public sealed class ChangeRolloutHandler(IRolloutStore rollouts, IRolloutQueries queries, TimeProvider time)
    : ICommandHandler<ChangeRollout, Result<RolloutView>>
{
    public async ValueTask<Result<RolloutView>> Handle(ChangeRollout command, CancellationToken cancellationToken)
    {
        var name = command.Name!;
        await using (var change = await rollouts.OpenAsync(name, cancellationToken))
        {
            if (change is null)
            {
                return Error.NotFound($"There is no rollout named '{name}'.");
            }

            var rollout = change.Rollout;
            var (stateBefore, reasonBefore) = (rollout.State, rollout.PauseReason);
            if (command.Phases is { } phases)
            {
                // as the filter: whether a plan fits depends on the stored target type and reach
                RolloutPlan? plan = null;
                if (phases.Count > 0)
                {
                    (plan, var planErrors) = RolloutPlan.Create(rollout.TargetType, phases);
                    if (plan is null)
                    {
                        return RolloutRules.ToError(planErrors);
                    }
                }

                if (rollout.ChangePlan(plan, time.GetUtcNow()) is { } planError)
                {
                    return RolloutRules.ToError([planError]);
                }
            }

            if (rollout.ManualTargetingProblem(command.RolloutPercentage is not null, command.TargetFilter is not null) is { } planned)
            {
                return RolloutRules.ToError([planned]);
            }

            if (command.TargetFilter is { } input)
            {
                // Whether a filter fits depends on the stored target type, so this is checked here, not in the validator.
                var filter = input.ToFilter();
                var errors = Rollout.ValidateFilter(rollout.TargetType, filter);
                if (errors.Count > 0)
                {
                    return RolloutRules.ToError(errors);
                }

                rollout.ChangeFilter(filter);
            }

            if (command.RolloutPercentage is { } percentage)
            {
                if (percentage >= rollout.Percentage)
                {
                    rollout.RaiseTo(percentage);
                }
                else
                {
                    rollout.LowerTo(percentage);
                }
            }

            if (command.FailureThreshold is { } threshold)
            {
                rollout.ChangeThreshold(new FailureThreshold(
                    threshold.Percent ?? rollout.Threshold.Percent,
                    threshold.MinimumAttempts ?? rollout.Threshold.MinimumAttempts));
            }

            if (command.AttemptDeadline is { } deadline)
            {
                rollout.ChangeDeadline(deadline.Over(rollout.Deadline));
            }

            if (command.Windows is { } windows)
            {
                rollout.ChangeWindows(WindowInput.ToSchedule(windows).Schedule!);
            }

            if (command.Pace is { } pace)
            {
                rollout.ChangePace(pace.ToPace());
            }

            switch (command.IsActive)
            {
                case true:
                    rollout.Resume();
                    break;
                case false:
                    rollout.Pause($"paused by {command.Actor}");
                    break;
            }

            if (RolloutEvent.ForOperatorChange(rollout, stateBefore, reasonBefore, command.Actor) is { } stateChanged)
            {
                change.Record(stateChanged);
            }

            await change.SaveAsync(cancellationToken);
        }

        var view = await queries.GetAsync(name, cancellationToken);
        return view is null ? Error.NotFound($"Rollout '{name}' was removed right after it was changed.") : view;
    }
}

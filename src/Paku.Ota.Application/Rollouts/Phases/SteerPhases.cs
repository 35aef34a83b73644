using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.Phases;

/// <summary>An operator moves a phased rollout to its next phase now, whatever its gates say (they are
/// recorded with the advance). Only an active or paused rollout that is not in its last phase.</summary>
public sealed record AdvancePhase(string? Name, string Actor) : ICommand<Result<RolloutView>>;

/// <summary>An operator holds a phased rollout in its phase (<paramref name="Hold"/> true): it keeps offering
/// the phase's reach but does not advance by itself; false releases the hold.</summary>
public sealed record HoldPhase(string? Name, bool Hold, string Actor) : ICommand<Result<RolloutView>>;

public sealed class AdvancePhaseHandler(IRolloutStore rollouts, IRolloutQueries queries, RolloutPhaseAdvancer advancer)
    : ICommandHandler<AdvancePhase, Result<RolloutView>>
{
    public async ValueTask<Result<RolloutView>> Handle(AdvancePhase command, CancellationToken cancellationToken)
    {
        var name = command.Name!;
        await using (var change = await rollouts.OpenAsync(name, cancellationToken))
        {
            if (PhasedProblem(change, name) is { } problem)
            {
                return problem;
            }

            var rollout = change!.Rollout;
            var phasing = rollout.Phasing!;
            if (rollout.State == RolloutState.Halted)
            {
                return Error.Conflict($"Rollout '{name}' is halted ({rollout.PauseReason}); resume it (PATCH is_active: true) before advancing it.");
            }

            if (phasing.IsLast)
            {
                return Error.Conflict($"Rollout '{name}' is in its last phase ({phasing.Index + 1} of {phasing.Plan.Count}, {phasing.Current.Reach}); there is nothing to advance to.");
            }

            // the gates as the rollout's view judges them (the rollout_health figures), recorded with the override
            var gates = (await queries.GetAsync(name, cancellationToken))?.Phase;
            var decision = new PhaseDecision(
                PhaseAction.Advance,
                $"advanced by {command.Actor} from phase {phasing.Index + 1} of {phasing.Plan.Count} ({phasing.Current.Reach}); the gates said: {gates?.Reason ?? "unknown"}",
                gates?.Gates ?? []);
            await advancer.AdvanceAsync(change, command.Actor, RolloutPhaseAdvancer.Manual, decision, cancellationToken);
        }

        return await ViewAsync(queries, name, cancellationToken);
    }

    /// <summary>Not found, or a rollout without a plan: what every phase action refuses first.</summary>
    internal static Error? PhasedProblem(IRolloutChange? change, string name) =>
        change is null ? Error.NotFound($"There is no rollout named '{name}'.")
        : change.Rollout.Phasing is null ? Error.Conflict($"Rollout '{name}' has no plan of phases; give it one with PATCH {{\"phases\": [...]}}, or change its percentage directly.")
        : null;

    internal static async Task<Result<RolloutView>> ViewAsync(IRolloutQueries queries, string name, CancellationToken cancellationToken) =>
        await queries.GetAsync(name, cancellationToken) is { } view ? view : Error.NotFound($"Rollout '{name}' was removed right after it was changed.");
}

public sealed class HoldPhaseHandler(IRolloutStore rollouts, IRolloutQueries queries) : ICommandHandler<HoldPhase, Result<RolloutView>>
{
    public async ValueTask<Result<RolloutView>> Handle(HoldPhase command, CancellationToken cancellationToken)
    {
        var name = command.Name!;
        await using (var change = await rollouts.OpenAsync(name, cancellationToken))
        {
            if (AdvancePhaseHandler.PhasedProblem(change, name) is { } problem)
            {
                return problem;
            }

            if (command.Hold)
            {
                change!.Rollout.HoldPhase($"held by {command.Actor}");
            }
            else
            {
                change!.Rollout.ReleasePhase();
            }

            await change.SaveAsync(cancellationToken);
        }

        return await AdvancePhaseHandler.ViewAsync(queries, name, cancellationToken);
    }
}

public sealed class AdvancePhaseValidator : AbstractValidator<AdvancePhase>
{
    public AdvancePhaseValidator() => RuleFor(c => c.Name).RolloutNameField();
}

public sealed class HoldPhaseValidator : AbstractValidator<HoldPhase>
{
    public HoldPhaseValidator() => RuleFor(c => c.Name).RolloutNameField();
}

using System.Collections.Concurrent;
using System.Text.Json;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts.Phases;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Rollouts.Health;

/// <summary>A rollout's health as the database counts it (the <c>rollout_health</c> view), with what judging it needs.</summary>
/// <param name="Phasing">The plan of a phased rollout and where it stands in it; null without a plan.</param>
public sealed record RolloutHealthFigures(
    long RolloutId, string Name, RolloutState State, FailureThreshold Threshold, RolloutCounts Counts, RolloutPhasing? Phasing = null);

public interface IRolloutHealthStore
{
    Task<IReadOnlyList<RolloutHealthFigures>> ReadAsync(IReadOnlyCollection<long> rolloutIds, CancellationToken cancellationToken);

    /// <summary>Rollouts that are not halted and whose attempts moved since the rollout itself last
    /// changed, and every active phased rollout (its soak may have passed with nothing moving): what the
    /// periodic sweep judges. A rollout an operator resumed is judged again only once an attempt of it moves.</summary>
    Task<IReadOnlyList<RolloutHealthFigures>> ReadMovedSinceChangedAsync(CancellationToken cancellationToken);
}

/// <summary>The one owner of "does this rollout halt?". Its evaluation is idempotent and runs outside
/// the update events' shared transaction: right after the commit of an event that makes a failure
/// (so an operator sees the halt in the report's wake), within a pass of the background loop after any
/// other event that moved an attempt (a success that takes the attempts over the minimum halts the
/// rollout too), and on a periodic sweep (which also catches what a replica that stopped never judged).
/// A halt takes the rollout's row lock and goes through <see cref="Rollout.Halt"/>, so however many
/// replicas decide at once, it is recorded, audited and counted once. A phased rollout that does not halt
/// by its threshold is then judged by its current phase's gates (<see cref="RolloutPlan.Decide"/>): it
/// advances (through <see cref="RolloutPhaseAdvancer"/>) or halts on its failure gate, again under the row
/// lock and only if it is still in the phase the figures were read for, so a phase advances once.</summary>
public sealed class RolloutHealthMonitor(
    IRolloutHealthStore health, IRolloutStore rollouts, ICatalog catalog, OtaMetrics metrics, RolloutPhaseAdvancer advancer, TimeProvider time)
{
    public const string SystemActor = "system";

    public const string SweepTrigger = "sweep";

    /// <summary>Rollouts whose attempts moved since the last pass, with the device that moved last.</summary>
    private readonly ConcurrentDictionary<long, string> _moved = new();

    public bool HasMoved => !_moved.IsEmpty;

    /// <summary>Called after the commit of an update event that belongs to a rollout. Never throws: the
    /// event is stored, and a rollout it could not judge now is judged by the next pass.</summary>
    public async Task AfterCommitAsync(long? rolloutId, LifecycleDecision decision, string deviceId, CancellationToken cancellationToken)
    {
        if (rolloutId is not { } id || decision.NewAttempt is null)
        {
            return;
        }

        if (!decision.CountsAsFailure)
        {
            _moved[id] = deviceId;
            return;
        }

        try
        {
            await JudgeAsync(await health.ReadAsync([id], cancellationToken), _ => deviceId, cancellationToken);
        }
        catch (Exception)
        {
            _moved[id] = deviceId;
        }
    }

    /// <summary>Judges the rollouts whose attempts moved since the last pass; returns the names of those it halted.</summary>
    public async Task<IReadOnlyList<string>> JudgeMovedAsync(CancellationToken cancellationToken)
    {
        var moved = new Dictionary<long, string>();
        foreach (var id in _moved.Keys)
        {
            if (_moved.TryRemove(id, out var deviceId))
            {
                moved[id] = deviceId;
            }
        }

        if (moved.Count == 0)
        {
            return [];
        }

        try
        {
            return await JudgeAsync(await health.ReadAsync(moved.Keys, cancellationToken), f => moved[f.RolloutId], cancellationToken);
        }
        catch
        {
            foreach (var (id, deviceId) in moved)
            {
                _moved.TryAdd(id, deviceId);
            }

            throw;
        }
    }

    /// <summary>Judges every rollout whose devices moved since it last changed; returns the names of those it halted.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(CancellationToken cancellationToken) =>
        await JudgeAsync(await health.ReadMovedSinceChangedAsync(cancellationToken), _ => SweepTrigger, cancellationToken);

    private async Task<IReadOnlyList<string>> JudgeAsync(
        IReadOnlyList<RolloutHealthFigures> figures, Func<RolloutHealthFigures, string> trigger, CancellationToken cancellationToken)
    {
        List<string> halted = [];
        foreach (var rollout in figures)
        {
            if (await HaltIfUnhealthyAsync(rollout, trigger(rollout), cancellationToken)
                || await JudgePhaseAsync(rollout, trigger(rollout), cancellationToken))
            {
                halted.Add(rollout.Name);
            }
        }

        if (halted.Count > 0)
        {
            catalog.Invalidate();
        }

        return halted;
    }

    private async Task<bool> HaltIfUnhealthyAsync(RolloutHealthFigures figures, string trigger, CancellationToken cancellationToken)
    {
        if (figures.State == RolloutState.Halted || !RolloutHealth.Evaluate(figures.Counts, figures.Threshold).MustHalt)
        {
            return false;
        }

        await using var change = await rollouts.OpenAsync(figures.Name, cancellationToken);
        if (change is null)
        {
            return false;
        }

        // judged again under the row lock, on the threshold as it is now: an operator may have changed
        // it meanwhile, and another replica may have halted the rollout first
        var rollout = change.Rollout;
        var verdict = RolloutHealth.Evaluate(figures.Counts, rollout.Threshold);
        if (!verdict.MustHalt || !rollout.Halt(verdict.Reason))
        {
            return false;
        }

        var details = JsonSerializer.Serialize(new
        {
            attempts = figures.Counts.Attempts,
            failed = figures.Counts.Failed,
            rolled_back = figures.Counts.RolledBack,
            failure_rate_percent = verdict.FailureRatePercent,
            threshold_percent = rollout.Threshold.Percent,
            minimum_attempts = rollout.Threshold.MinimumAttempts,
            triggered_by = trigger,
        });
        await change.SaveHaltAsync(details, cancellationToken);
        metrics.RolloutHalted();
        return true;
    }

    /// <summary>Advances a phased rollout whose current phase passed its gates, or halts it when the phase's
    /// failure gate failed; returns true when it halted it.</summary>
    private async Task<bool> JudgePhaseAsync(RolloutHealthFigures figures, string trigger, CancellationToken cancellationToken)
    {
        if (figures.State != RolloutState.Active || figures.Phasing is not { } read)
        {
            return false;
        }

        if (read.Decide(figures.Counts, figures.Threshold, time.GetUtcNow()).Action is not (PhaseAction.Advance or PhaseAction.Halt))
        {
            return false;
        }

        await using var change = await rollouts.OpenAsync(figures.Name, cancellationToken);
        var rollout = change?.Rollout;
        // judged again under the row lock, as the rollout is now: an operator may have paused, held or
        // re-planned it, and another replica may have advanced it first (then it is in another phase and
        // these figures were not read for it)
        if (rollout is not { State: RolloutState.Active, Phasing: { } locked } || locked.Index != read.Index)
        {
            return false;
        }

        var decision = locked.Decide(figures.Counts, rollout.Threshold, time.GetUtcNow());
        switch (decision.Action)
        {
            case PhaseAction.Advance:
                await advancer.AdvanceAsync(change!, SystemActor, RolloutPhaseAdvancer.Automatic, decision, cancellationToken);
                return false;

            case PhaseAction.Halt when rollout.Halt(decision.Reason):
                var details = JsonSerializer.Serialize(new
                {
                    attempts = figures.Counts.Attempts,
                    failed = figures.Counts.Failed,
                    rolled_back = figures.Counts.RolledBack,
                    timed_out = figures.Counts.TimedOut,
                    confirmed = figures.Counts.Confirmed,
                    failure_rate_percent = Math.Round(RolloutHealth.FailureRatePercent(figures.Counts), 2),
                    phase = locked.Index + 1,
                    phases = locked.Plan.Count,
                    max_failure_percent = decision.Gates.Single(g => g.Gate == GateCheck.MaxFailurePercent).Required,
                    triggered_by = trigger,
                });
                await change!.SaveHaltAsync(details, cancellationToken);
                metrics.RolloutHalted();
                return true;

            default:
                return false;
        }
    }
}

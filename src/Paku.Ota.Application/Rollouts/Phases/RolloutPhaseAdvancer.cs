using System.Text.Json;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.Phases;

/// <summary>The one place a phased rollout moves to its next phase, whether its gates passed (the health
/// monitor, actor "system") or an operator advanced it by hand: the rollout (locked by its
/// <see cref="IRolloutChange"/>) advances through <see cref="Rollout.AdvancePhase"/>, the change and its
/// audit entry (action <c>rollout.phase_advance</c>, with the gates' figures) are saved in one
/// transaction, the advance is counted (<c>ota.rollout.phase.advances</c>) and the catalog reloads.</summary>
public sealed class RolloutPhaseAdvancer(ICatalog catalog, OtaMetrics metrics, TimeProvider time)
{
    public const string Automatic = "automatic";
    public const string Manual = "manual";

    /// <param name="decision">What the gates said when the advance was decided (for a manual advance,
    /// whatever they said: the operator overrides them).</param>
    public async Task AdvanceAsync(IRolloutChange change, string actor, string trigger, PhaseDecision decision, CancellationToken cancellationToken)
    {
        var rollout = change.Rollout;
        var from = rollout.Phasing ?? throw new InvalidOperationException($"Rollout '{rollout.Name}' has no plan of phases.");
        rollout.AdvancePhase(time.GetUtcNow());
        var to = rollout.Phasing!;
        var details = JsonSerializer.Serialize(new
        {
            trigger,
            from_phase = from.Index + 1,
            to_phase = to.Index + 1,
            phases = to.Plan.Count,
            reach = to.Current.Reach,
            rollout_percentage = rollout.Percentage,
            reason = decision.Reason,
            gates = decision.Gates.Select(g => new { gate = g.Gate, met = g.Met, required = g.Required, actual = g.Actual, detail = g.Detail }),
        });
        await change.SaveAdvanceAsync(actor, details, cancellationToken);
        metrics.PhaseAdvanced(trigger);
        catalog.Invalidate();
    }
}

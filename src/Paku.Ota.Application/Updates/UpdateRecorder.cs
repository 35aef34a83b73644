using System.Text.Json;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Updates;

/// <summary>Writes what a lifecycle decision means — the history entry, the attempt's new state, the
/// rollout's accounting — and halts the rollout when a failure takes it past its threshold.
/// Shared by status reports and check-ins, so both count the same way.</summary>
public sealed class UpdateRecorder(ICatalog catalog, OtaMetrics metrics)
{
    /// <returns>The rollout halted by this decision, if any (the caller invalidates the catalog after commit).</returns>
    public async Task<string?> RecordAsync(IUpdateLedgerSession session, string deviceId, long? rolloutId, LifecycleDecision decision,
        StatusEntry? deviceReport, CancellationToken cancellationToken)
    {
        if (deviceReport is not null)
        {
            session.AppendHistory(deviceReport);
        }

        var attempt = decision.NewAttempt;
        if (attempt is null)
        {
            return null;
        }

        session.SaveAttempt(deviceId, rolloutId, attempt, decision.StartsAttempt);
        if (deviceReport is null)
        {
            // derived by the server (confirmed / rolled back): it goes into the history too
            session.AppendHistory(new StatusEntry(deviceId, attempt.TargetVersion, attempt.Status, attempt.Progress,
                attempt.Status == UpdateStatus.RolledBack ? decision.Reason : null, rolloutId, FromDevice: false));
        }

        if (!decision.CountsAsFailure || rolloutId is not { } id)
        {
            return null;
        }

        var snapshot = await catalog.CurrentAsync(cancellationToken);
        var rollout = snapshot.RolloutWithId(id);
        if (rollout is null || rollout.Rollout.IsHalted)
        {
            return null;
        }

        var counts = await session.CountAsync(id, cancellationToken);
        var verdict = RolloutHealth.Evaluate(counts, rollout.Rollout.Threshold);
        if (!verdict.MustHalt)
        {
            return null;
        }

        var details = JsonSerializer.Serialize(new
        {
            attempts = counts.Attempts,
            failed = counts.Failed,
            rolled_back = counts.RolledBack,
            failure_rate_percent = verdict.FailureRatePercent,
            threshold_percent = rollout.Rollout.Threshold.Percent,
            minimum_attempts = rollout.Rollout.Threshold.MinimumAttempts,
            triggered_by = deviceId,
        });
        if (!await session.HaltAsync(id, verdict.Reason, details, cancellationToken))
        {
            return null;
        }

        metrics.RolloutHalted();
        return rollout.Rollout.Name;
    }
}

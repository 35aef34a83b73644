using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Updates;

/// <summary>Writes what a lifecycle decision means — the history entry, the attempt's new state, the
/// rollout's accounting — into the event's ledger session. Shared by status reports and check-ins, so
/// both record the same way; judging the rollout's health comes after the commit
/// (<see cref="Rollouts.Health.RolloutHealthMonitor"/>).</summary>
public static class UpdateRecorder
{
    public static void Record(IUpdateLedgerSession session, string deviceId, long? rolloutId, LifecycleDecision decision, StatusEntry? deviceReport)
    {
        if (deviceReport is not null)
        {
            session.AppendHistory(deviceReport);
        }

        var attempt = decision.NewAttempt;
        if (attempt is null)
        {
            return;
        }

        session.SaveAttempt(deviceId, rolloutId, attempt, decision.StartsAttempt);
        if (deviceReport is null)
        {
            // derived by the server (confirmed / rolled back / timed out): it goes into the history too
            session.AppendHistory(new StatusEntry(deviceId, attempt.TargetVersion, attempt.Status, attempt.Progress,
                attempt.Status is UpdateStatus.RolledBack or UpdateStatus.TimedOut ? decision.Reason : null, rolloutId, FromDevice: false));
        }
    }
}

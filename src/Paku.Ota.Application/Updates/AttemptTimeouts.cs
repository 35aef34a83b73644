using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Updates;

/// <summary>An attempt the database finds silent past its rollout's deadline at some moment.</summary>
public sealed record OverdueAttempt(string DeviceId, AttemptDeadline Deadline);

public interface IOverdueAttempts
{
    /// <summary>Attempts in a step that can time out, last changed longer ago than their rollout's
    /// deadline for that step allows at <paramref name="now"/>; the longest silent first.</summary>
    Task<IReadOnlyList<OverdueAttempt>> FindAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}

/// <summary>Times out stuck updates: each overdue attempt is decided again by
/// <see cref="UpdateLifecycle.OnDeadline"/> on the device's locked state with the clock's time, recorded
/// like any other update event (history, attempt, the rollout's accounting), and its rollout's health is
/// judged after the commit: a timeout is a failure.</summary>
public sealed class AttemptTimeouts(IOverdueAttempts overdue, IUpdateLedger ledger, RolloutHealthMonitor health, OtaMetrics metrics, TimeProvider time)
{
    /// <summary>Most attempts timed out in one pass; the rest wait for the next.</summary>
    public const int PerPass = 500;

    /// <returns>How many attempts timed out.</returns>
    public async Task<int> TimeOutOverdueAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var timedOut = 0;
        foreach (var attempt in await overdue.FindAsync(now, PerPass, cancellationToken))
        {
            LifecycleDecision decision;
            long? rolloutId;
            await using (var session = await ledger.OpenAsync(attempt.DeviceId, cancellationToken))
            {
                // decided again on the locked state: a report may have arrived since the search
                if (session.Device is not { Attempt: { } current, AttemptChangedAt: { } changedAt })
                {
                    continue;
                }

                decision = UpdateLifecycle.OnDeadline(current.Attempt, changedAt, attempt.Deadline, now);
                if (decision.NewAttempt is null)
                {
                    continue;
                }

                rolloutId = current.RolloutId;
                UpdateRecorder.Record(session, attempt.DeviceId, rolloutId, decision, deviceReport: null);
                await session.CommitAsync(cancellationToken);
            }

            timedOut++;
            metrics.StatusRecorded(UpdateStatus.TimedOut.ToWire());
            await health.AfterCommitAsync(rolloutId, decision, attempt.DeviceId, cancellationToken);
        }

        return timedOut;
    }
}

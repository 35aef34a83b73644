using System.Collections.Concurrent;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.Pacing;

/// <summary>Admits devices to paced rollouts. Only a device's first offer of a paced rollout goes to the
/// database (the budget row, shared by the replicas); a refusal is remembered until asking again can
/// succeed (the next minute, or a few seconds for a full in-flight limit), so that a fleet waiting on a
/// spent budget costs no database work beyond each check's own upsert.</summary>
public sealed class RolloutPacing(IPaceLedger ledger)
{
    /// <summary>How long a refusal by the in-flight limit is trusted: slots free whenever attempts end.</summary>
    public static readonly TimeSpan InFlightRecheck = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<long, Refusal> _refused = new();

    public async ValueTask<PaceDecision> TryAdmitAsync(
        CatalogRollout rollout, string deviceId, string fromVersion, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pace = rollout.Rollout.Pace;
        if (_refused.TryGetValue(rollout.Id, out var known) && ReferenceEquals(known.Pace, pace) && now < known.Until)
        {
            return known.Decision;
        }

        var decision = await ledger.TryAdmitAsync(
            rollout.Id, pace, deviceId, rollout.Release.Version.ToString(), fromVersion, now, cancellationToken);
        if (decision.Admitted)
        {
            _refused.TryRemove(rollout.Id, out _);
        }
        else
        {
            var until = pace.PerMinute is { } perMinute && decision.After.Minute == Pace.MinuteOf(now) && decision.After.OffersInMinute >= perMinute
                ? decision.RetryFrom!.Value
                : now + InFlightRecheck;
            _refused[rollout.Id] = new Refusal(pace, decision, until);
        }

        return decision;
    }

    private sealed record Refusal(Pace Pace, PaceDecision Decision, DateTimeOffset Until);
}

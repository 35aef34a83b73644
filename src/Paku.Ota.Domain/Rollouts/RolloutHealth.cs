using System.Globalization;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>How a rollout's devices have fared so far: every attempt, those that failed, rolled back or
/// timed out, and those confirmed (booted the release and checked in running it).</summary>
public sealed record RolloutCounts(int Attempts, int Failed, int RolledBack, int TimedOut = 0, int Confirmed = 0)
{
    public int Attempts { get; } = Attempts >= 0 ? Attempts : throw new ArgumentOutOfRangeException(nameof(Attempts), Attempts, "cannot be negative");
    public int Failed { get; } = Failed >= 0 ? Failed : throw new ArgumentOutOfRangeException(nameof(Failed), Failed, "cannot be negative");
    public int RolledBack { get; } = RolledBack >= 0 ? RolledBack : throw new ArgumentOutOfRangeException(nameof(RolledBack), RolledBack, "cannot be negative");
    public int TimedOut { get; } = TimedOut >= 0 ? TimedOut : throw new ArgumentOutOfRangeException(nameof(TimedOut), TimedOut, "cannot be negative");
    public int Confirmed { get; } = Confirmed >= 0 ? Confirmed : throw new ArgumentOutOfRangeException(nameof(Confirmed), Confirmed, "cannot be negative");

    public int Failures => Failed + RolledBack + TimedOut;
}

/// <param name="MustHalt">The failure rate is strictly above the threshold after enough attempts.</param>
/// <param name="FailureRatePercent">Failures (failed + rolled back + timed out) per 100 attempts; 0 before any attempt.</param>
/// <param name="Reason">A sentence with the figures, fit for an audit entry or the rollout's pause reason.</param>
public sealed record HealthVerdict(bool MustHalt, decimal FailureRatePercent, string Reason);

/// <summary>The one definition of a rollout's health. An attempt is a device of the rollout that started
/// the update (any status; a device only offered it has not attempted); a failure is an attempt that
/// ended failed, rolled back or timed out. The database's <c>rollout_health</c> view counts the same, pinned by a test.</summary>
public static class RolloutHealth
{
    /// <summary>Whether a device's attempt in this status counts against the rollout.</summary>
    public static bool IsFailure(UpdateStatus status) => status is UpdateStatus.Failed or UpdateStatus.RolledBack or UpdateStatus.TimedOut;

    /// <summary>Whether a device of the rollout holds one of its in-flight slots (<see cref="Pace.MaxInFlight"/>):
    /// its attempt is downloading or installing, or it was offered the release (null status) less than the
    /// rollout's downloading deadline ago and has not started — an offered device starts at once, and one
    /// that never does frees its slot when a silent download would have timed out. The <c>rollout_health</c>
    /// view's <c>in_flight</c> counts the same, pinned by a test.</summary>
    public static bool IsInFlight(UpdateStatus? status, DateTimeOffset offeredAt, AttemptDeadline deadline, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(deadline);
        return status switch
        {
            null => offeredAt + deadline.Downloading > now,
            UpdateStatus.Downloading or UpdateStatus.Installing => true,
            _ => false,
        };
    }

    /// <summary>Counts a rollout's devices by the status of their attempt; null for a device that was
    /// offered the release and has not started.</summary>
    public static RolloutCounts Count(IEnumerable<UpdateStatus?> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        int attempts = 0, failed = 0, rolledBack = 0, timedOut = 0, confirmed = 0;
        foreach (var status in devices)
        {
            if (status is not { } started)
            {
                continue;
            }

            attempts++;
            failed += started == UpdateStatus.Failed ? 1 : 0;
            rolledBack += started == UpdateStatus.RolledBack ? 1 : 0;
            timedOut += started == UpdateStatus.TimedOut ? 1 : 0;
            confirmed += started == UpdateStatus.Confirmed ? 1 : 0;
        }

        return new RolloutCounts(attempts, failed, rolledBack, timedOut, confirmed);
    }

    /// <summary>Failures per 100 attempts; 0 before any attempt.</summary>
    public static decimal FailureRatePercent(RolloutCounts counts) =>
        counts.Attempts == 0 ? 0m : counts.Failures * 100m / counts.Attempts;

    /// <summary>Whether the failures are strictly above <paramref name="percent"/> of the attempts; compared
    /// without division so that exactly-at-the-limit never tips over through rounding.</summary>
    public static bool FailuresAbove(RolloutCounts counts, decimal percent) => counts.Failures * 100m > percent * counts.Attempts;

    /// <summary>"2 of 20 attempts failed or rolled back (10 %)": the figures every verdict quotes.</summary>
    public static string Figures(RolloutCounts counts)
    {
        var how = counts.TimedOut == 0 ? "failed or rolled back" : "failed, rolled back or timed out";
        return $"{counts.Failures} of {counts.Attempts} attempts {how} ({Percent(FailureRatePercent(counts))} %)";
    }

    public static HealthVerdict Evaluate(RolloutCounts counts, FailureThreshold threshold)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(threshold);

        var rate = FailureRatePercent(counts);
        var figures = Figures(counts);

        if (counts.Attempts < threshold.MinimumAttempts)
        {
            return new HealthVerdict(
                false, rate, $"too early to judge: {figures}, {threshold.MinimumAttempts} attempts are needed first");
        }

        return FailuresAbove(counts, threshold.Percent)
            ? new HealthVerdict(true, rate, $"halted: {figures}, above the {Percent(threshold.Percent)} % threshold")
            : new HealthVerdict(false, rate, $"healthy: {figures}, within the {Percent(threshold.Percent)} % threshold");
    }

    internal static string Percent(decimal value) => value.ToString("0.##", CultureInfo.InvariantCulture);
}

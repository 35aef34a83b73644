using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Updates;

/// <summary>
/// Whether the rollout <see cref="UpdateSelection"/> chose may offer its release now: inside one of its
/// maintenance windows and within its pace. A device already downloading or installing that release is
/// never cut off — a window closing or the pace filling up stops new attempts, not running ones, since
/// an attempt interrupted half-way only costs a device a retry (and the rollout a failure) for nothing.
/// When the answer is "not now", the <see cref="Deferral"/> says when to come back.
/// </summary>
public static class OfferGate
{
    /// <summary>The device is in the middle of an attempt at this rollout's release.</summary>
    public static bool IsUnderway(UpdateAttempt? attempt, Rollout rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        return attempt is { Status: UpdateStatus.Downloading or UpdateStatus.Installing }
            && FirmwareVersion.TryParse(attempt.TargetVersion, out var target, out _)
            && target == rollout.Version;
    }

    /// <summary>Null when the rollout's windows are open at <paramref name="now"/>; otherwise when the next opens.</summary>
    public static Deferral? OutsideWindow(Rollout rollout, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        var schedule = rollout.Windows;
        if (schedule.IsOpen(now))
        {
            return null;
        }

        if (schedule.NextOpening(now) is not { } next)
        {
            var unknown = schedule.Windows.Where(w => w.Zone is null).Select(w => w.TimeZoneId).Distinct();
            return new Deferral(OfferHold.OutsideWindow, null, TimeSpan.Zero,
                $"outside window: no window can open, as this server does not know the time zones {string.Join(", ", unknown)}");
        }

        return new Deferral(OfferHold.OutsideWindow, next.Start, next.Length,
            $"outside window, next opens at {next.Start.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'} for {Describe(next.Length)}");
    }

    /// <summary>A refusal by the pace; devices come back over <paramref name="spread"/> (their usual check
    /// interval) from the moment asking again can succeed, so that a waiting fleet keeps its usual rate of checks.</summary>
    public static Deferral Paced(PaceDecision decision, TimeSpan spread)
    {
        ArgumentNullException.ThrowIfNull(decision);
        if (decision.Admitted)
        {
            throw new ArgumentException("the pace admitted the device", nameof(decision));
        }

        return new Deferral(OfferHold.Paced, decision.RetryFrom, spread, decision.Reason);
    }

    private static string Describe(TimeSpan length) =>
        length.TotalMinutes < 120
            ? $"{(int)length.TotalMinutes} min"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{length.TotalHours:0.#} h");
}

/// <summary>Why an eligible rollout offers nothing now.</summary>
public enum OfferHold
{
    OutsideWindow,
    Paced,
}

/// <summary>"Not now": why, from when asking again can succeed (null: not foreseeable) and over how long
/// the devices are spread after that.</summary>
public sealed record Deferral(OfferHold Hold, DateTimeOffset? OpensAt, TimeSpan Spread, string Reason)
{
    /// <summary>When the device should check again: at its own fixed offset (a hash of rollout and device,
    /// so a fleet spreads evenly and each device keeps its place) into <see cref="Spread"/> after
    /// <see cref="OpensAt"/>, the offset kept below <paramref name="maxSeconds"/> (the device's usual
    /// interval) as is the whole wait: a device told to come back in a week would miss everything else meanwhile.</summary>
    public int NextCheckSeconds(string rolloutName, string deviceId, DateTimeOffset now, int maxSeconds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSeconds, 1);
        if (OpensAt is not { } opens)
        {
            return maxSeconds;
        }

        var spread = Math.Min(Spread.TotalSeconds, maxSeconds);
        var offset = spread * Jitter(rolloutName, deviceId);
        var wait = Math.Ceiling((opens - now).TotalSeconds + offset);
        return (int)Math.Clamp(wait, 1, maxSeconds);
    }

    /// <summary>A fraction in [0, 1) fixed per rollout and device, independent of the device's percentage bucket
    /// (otherwise a 10 % canary's devices would all come first).</summary>
    internal static double Jitter(string rolloutName, string deviceId) =>
        PercentageBucket.Of("\u0001jitter\u0001" + rolloutName, deviceId) / (double)PercentageBucket.Count;
}

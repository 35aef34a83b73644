using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Updates;

/// <summary>
/// downloading → installing → success → confirmed (the device checks in running the target) or
/// rolled_back (it checks in still running another version); failed from any step before that;
/// timed_out when the device stays silent in a step past its rollout's deadline, until it tells more.
/// Reports arrive late, twice, or out of order over flaky Wi-Fi: only forward moves change state.
/// </summary>
public static class UpdateLifecycle
{
    public static LifecycleDecision OnReport(
        UpdateAttempt? current,
        string reportedVersion,
        UpdateStatus reported,
        int progress,
        string? deviceCurrentVersion)
    {
        ArgumentException.ThrowIfNullOrEmpty(reportedVersion);
        if (!reported.IsDeviceReportable())
        {
            throw new ArgumentException(
                $"a device cannot report '{reported.ToWire()}'; it may report {UpdateStatuses.DeviceReportableWireNames}",
                nameof(reported));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(progress);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(progress, 100);

        var target = Normalised(reportedVersion);
        if (current is null)
        {
            return Start(target, deviceCurrentVersion, reported, progress, $"first report for {target}");
        }

        if (!SameVersion(current.TargetVersion, target))
        {
            return Start(target, deviceCurrentVersion, reported, progress, $"new target {target} replaces {current.TargetVersion}");
        }

        var was = current.Status;
        if (was == UpdateStatus.TimedOut)
        {
            // the device was silent, not necessarily stuck: what it reports now is the truth
            return reported == UpdateStatus.Downloading
                ? Start(target, deviceCurrentVersion, reported, progress, $"retry of {target} after timed_out")
                : new LifecycleDecision(
                    reported == UpdateStatus.Failed ? LifecycleOutcome.Failed : LifecycleOutcome.Advanced,
                    current with { Status = reported, Progress = progress },
                    $"{target}: timed_out → {reported.ToWire()}, reported late");
        }

        if (was.IsTerminal())
        {
            if (reported == UpdateStatus.Downloading && was is UpdateStatus.Failed or UpdateStatus.RolledBack)
            {
                return Start(target, deviceCurrentVersion, reported, progress, $"retry of {target} after {was.ToWire()}");
            }

            return was == UpdateStatus.Failed && reported == UpdateStatus.Failed
                ? NoChange(LifecycleOutcome.Repeated, $"{target} already failed")
                : NoChange(LifecycleOutcome.Stale, $"'{reported.ToWire()}' arrived after the attempt at {target} ended as {was.ToWire()}");
        }

        if (reported == UpdateStatus.Failed)
        {
            return new LifecycleDecision(
                LifecycleOutcome.Failed,
                current with { Status = UpdateStatus.Failed, Progress = progress },
                $"{target} failed while {was.ToWire()}");
        }

        if (reported == was)
        {
            return progress > current.Progress
                ? new LifecycleDecision(
                    LifecycleOutcome.Progressed,
                    current with { Progress = progress },
                    $"{was.ToWire()} {target}: {current.Progress} % → {progress} %")
                : NoChange(LifecycleOutcome.Repeated, $"{was.ToWire()} {target} again, at {progress} %");
        }

        return Step(reported) > Step(was)
            ? new LifecycleDecision(
                LifecycleOutcome.Advanced,
                current with { Status = reported, Progress = progress },
                $"{target}: {was.ToWire()} → {reported.ToWire()}")
            : NoChange(LifecycleOutcome.Stale, $"'{reported.ToWire()}' for {target} arrived after '{was.ToWire()}'");
    }

    public static LifecycleDecision OnCheckIn(UpdateAttempt? current, FirmwareVersion runningVersion)
    {
        ArgumentNullException.ThrowIfNull(runningVersion);
        if (current is null)
        {
            return NoChange(LifecycleOutcome.Unchanged, "no update attempt");
        }

        var was = current.Status;
        if (was.IsTerminal())
        {
            return NoChange(LifecycleOutcome.Unchanged, $"the attempt at {current.TargetVersion} already ended as {was.ToWire()}");
        }

        var runsTarget = FirmwareVersion.TryParse(current.TargetVersion, out var target, out _) && target == runningVersion;
        if (runsTarget)
        {
            return new LifecycleDecision(
                LifecycleOutcome.Confirmed,
                current with { Status = UpdateStatus.Confirmed, Progress = 100 },
                was == UpdateStatus.TimedOut
                    ? $"the device runs {runningVersion}: update confirmed after it had timed out"
                    : $"the device runs {runningVersion}: update confirmed");
        }

        if (was == UpdateStatus.TimedOut)
        {
            return NoChange(LifecycleOutcome.Unchanged, $"timed out at {current.TargetVersion}, still running {runningVersion}");
        }

        return was == UpdateStatus.Success
            ? new LifecycleDecision(
                LifecycleOutcome.RolledBack,
                current with { Status = UpdateStatus.RolledBack },
                $"the device reported success for {current.TargetVersion} but still runs {runningVersion}: rolled back")
            : NoChange(LifecycleOutcome.Unchanged, $"still {was.ToWire()} {current.TargetVersion}, running {runningVersion}");
    }

    /// <summary>Whether the attempt has been silent in its step past <paramref name="deadline"/> at
    /// <paramref name="now"/>, having last changed at <paramref name="lastChange"/>.</summary>
    public static LifecycleDecision OnDeadline(UpdateAttempt? current, DateTimeOffset lastChange, AttemptDeadline deadline, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(deadline);
        if (current is null || deadline.For(current.Status) is not { } allowed)
        {
            return NoChange(LifecycleOutcome.Unchanged, "no attempt in a step that can time out");
        }

        var silent = now - lastChange;
        if (silent < allowed)
        {
            return NoChange(LifecycleOutcome.Unchanged, $"{current.Status.ToWire()} {current.TargetVersion} for {Minutes(silent)} of {Minutes(allowed)} allowed");
        }

        return new LifecycleDecision(
            LifecycleOutcome.TimedOut,
            current with { Status = UpdateStatus.TimedOut },
            $"no word from the device for {Minutes(silent)} while {current.Status.ToWire()} {current.TargetVersion} " +
            $"(the rollout allows {Minutes(allowed)}): timed out");
    }

    private static string Minutes(TimeSpan span) => $"{(long)span.TotalMinutes} min";

    private static LifecycleDecision Start(string target, string? from, UpdateStatus status, int progress, string reason) =>
        new(LifecycleOutcome.Started,
            new UpdateAttempt(target, from is null ? null : Normalised(from), status, progress),
            status == UpdateStatus.Failed ? $"{reason}, failed at once" : reason);

    private static LifecycleDecision NoChange(LifecycleOutcome outcome, string reason) => new(outcome, null, reason);

    private static int Step(UpdateStatus status) => status switch
    {
        UpdateStatus.Downloading => 0,
        UpdateStatus.Installing => 1,
        UpdateStatus.Success => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not a step of a running attempt"),
    };

    // "v1.2.0" and "1.2.0" are one target; text that is no version is kept as the device sent it.
    private static string Normalised(string version) =>
        FirmwareVersion.TryParse(version, out var parsed, out _) ? parsed.ToString() : version;

    private static bool SameVersion(string left, string right) =>
        FirmwareVersion.TryParse(left, out var a, out _) && FirmwareVersion.TryParse(right, out var b, out _)
            ? a == b
            : string.Equals(left, right, StringComparison.Ordinal);
}

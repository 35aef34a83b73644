using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.ReportUpdateStatus;

/// <summary>A device reports how its update is going. <paramref name="PathDeviceId"/> is the id in the
/// URL; <paramref name="DeviceId"/> the one in the body (when sent, they must agree).</summary>
public sealed record ReportUpdateStatus(
    string? PathDeviceId,
    string? DeviceId,
    string? FirmwareVersion,
    string? Status,
    int? ProgressPercent,
    string? ErrorMessage) : ICommand<Result<StatusReceipt>>;

/// <summary>What the server made of the report: the attempt's state after it, and why.</summary>
public sealed record StatusReceipt(string DeviceId, string FirmwareVersion, string Recorded, string State, string Note);

public sealed class ReportUpdateStatusHandler(IUpdateLedger ledger, RolloutHealthMonitor health, OtaMetrics metrics)
    : ICommandHandler<ReportUpdateStatus, Result<StatusReceipt>>
{
    public async ValueTask<Result<StatusReceipt>> Handle(ReportUpdateStatus command, CancellationToken cancellationToken)
    {
        var deviceId = command.PathDeviceId!;
        var version = Domain.Versions.FirmwareVersion.Parse(command.FirmwareVersion!).ToString();
        UpdateStatuses.TryParse(command.Status, out var status);
        var progress = command.ProgressPercent ?? 0;

        StatusReceipt receipt;
        LifecycleDecision decision;
        long? rolloutId;
        await using (var session = await ledger.OpenAsync(deviceId, cancellationToken))
        {
            if (session.Device is not { } device)
            {
                return Error.NotFound($"Device '{deviceId}' has never checked in; it must call /api/firmware/check before reporting a status.");
            }

            decision = UpdateLifecycle.OnReport(device.Attempt?.Attempt, version, status, progress, device.CurrentVersion);
            rolloutId = RolloutOf(device, version);
            var entry = new StatusEntry(deviceId, version, status, progress, command.ErrorMessage, rolloutId, FromDevice: true);
            UpdateRecorder.Record(session, deviceId, rolloutId, decision, entry);
            await session.CommitAsync(cancellationToken);

            var state = (decision.NewAttempt ?? device.Attempt?.Attempt)?.Status.ToWire() ?? status.ToWire();
            receipt = new StatusReceipt(deviceId, version, status.ToWire(), state, decision.Reason);
        }

        metrics.StatusRecorded(status.ToWire());
        await health.AfterCommitAsync(rolloutId, decision, deviceId, cancellationToken);

        return receipt;
    }

    /// <summary>The rollout a report belongs to: the current attempt's when it is about the same
    /// version, else the rollout that last offered this version, else none (an update the service did
    /// not offer is recorded, but counts towards no rollout).</summary>
    private static long? RolloutOf(DeviceUpdateState device, string version)
    {
        if (device.Attempt is { } attempt && SameVersion(attempt.Attempt.TargetVersion, version))
        {
            return attempt.RolloutId ?? (SameVersion(device.OfferedVersion, version) ? device.OfferedRolloutId : null);
        }

        return SameVersion(device.OfferedVersion, version) ? device.OfferedRolloutId : null;
    }

    private static bool SameVersion(string? stored, string version) =>
        stored is not null && Domain.Versions.FirmwareVersion.TryParse(stored, out var a, out _) && a == Domain.Versions.FirmwareVersion.Parse(version);
}

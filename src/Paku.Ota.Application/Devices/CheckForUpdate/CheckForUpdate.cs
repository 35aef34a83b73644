using Mediator;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts.Pacing;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.CheckForUpdate;

/// <summary>A device asks whether there is an update for it.</summary>
public sealed record CheckForUpdate(string? DeviceId, string? DeviceModel, string? CurrentVersion) : IQuery<Result<UpdateCheckAnswer>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

/// <summary>The answer, field for field what the seed's device code reads.</summary>
public sealed record UpdateCheckAnswer(
    bool UpdateAvailable,
    string CurrentVersion,
    string LatestVersion,
    string? DownloadUrl,
    string? ChecksumSha256,
    long? SizeBytes,
    string? Signature,
    string? SignatureAlgorithm,
    string? ReleaseNotes,
    string? Rollout,
    bool IsRollback,
    int NextCheckSeconds);

/// <summary>How often devices are told to come back (<c>Ota:Devices:CheckIntervalSeconds</c>), spread by
/// ±<c>JitterPercent</c> so a fleet that rebooted together does not return together.</summary>
public sealed class CheckIntervalOptions
{
    public int CheckIntervalSeconds { get; set; } = 3600;

    public int JitterPercent { get; set; } = 10;

    public int Next()
    {
        var spread = CheckIntervalSeconds * JitterPercent / 100;
        return CheckIntervalSeconds + (spread == 0 ? 0 : Random.Shared.Next(-spread, spread + 1));
    }
}

public sealed class CheckForUpdateHandler(
    ICatalog catalog,
    IDeviceStore devices,
    IUpdateLedger ledger,
    RolloutHealthMonitor health,
    OtaMetrics metrics,
    CheckIntervalOptions interval,
    RolloutPacing pacing,
    TimeProvider time)
    : IQueryHandler<CheckForUpdate, Result<UpdateCheckAnswer>>
{
    public async ValueTask<Result<UpdateCheckAnswer>> Handle(CheckForUpdate query, CancellationToken cancellationToken)
    {
        var deviceId = query.DeviceId!;
        var model = query.DeviceModel!;
        var running = FirmwareVersion.Parse(query.CurrentVersion!);
        var snapshot = await catalog.CurrentAsync(cancellationToken);
        var checkIn = await devices.CheckInAsync(deviceId, model, running.ToString(), cancellationToken);

        if (checkIn.Attempt is { } stored && UpdateLifecycle.OnCheckIn(stored.Attempt, running).NewAttempt is not null)
        {
            await RecordCheckInOutcomeAsync(deviceId, stored.RolloutId, cancellationToken);
        }

        var chosen = UpdateSelection.Select(new DeviceSnapshot(deviceId, model, running, checkIn.Groups), snapshot.ActiveCandidatesFor(model));
        if (chosen is null)
        {
            metrics.Checked(model, "up_to_date");
            return new UpdateCheckAnswer(false, running.ToString(), running.ToString(), null, null, null, null, null, null, null, false, interval.Next());
        }

        var rollout = snapshot.RolloutOf(chosen);
        var release = rollout.Release;
        var version = release.Version.ToString();
        var firstOffer = checkIn.OfferedRolloutId != rollout.Id || checkIn.OfferedVersion != version;
        var recorded = false;
        if (!OfferGate.IsUnderway(checkIn.Attempt?.Attempt, rollout.Rollout))
        {
            var now = time.GetUtcNow();
            if (OfferGate.OutsideWindow(rollout.Rollout, now) is { } closed)
            {
                return Deferred(model, running, rollout, deviceId, closed, now, "outside_window");
            }

            // a device already offered this release was admitted then; only a first offer spends the pace
            if (firstOffer && !rollout.Rollout.Pace.IsNone)
            {
                var decision = await pacing.TryAdmitAsync(rollout, deviceId, running.ToString(), now, cancellationToken);
                if (!decision.Admitted)
                {
                    var spread = TimeSpan.FromSeconds(interval.CheckIntervalSeconds);
                    return Deferred(model, running, rollout, deviceId, OfferGate.Paced(decision, spread), now, "paced");
                }

                recorded = true; // the admission recorded the offer
            }
        }

        if (firstOffer && !recorded)
        {
            await devices.RecordOfferAsync(deviceId, rollout.Id, version, running.ToString(), cancellationToken);
        }

        metrics.Checked(model, "offered");
        return new UpdateCheckAnswer(
            UpdateAvailable: true,
            CurrentVersion: running.ToString(),
            LatestVersion: version,
            DownloadUrl: $"/api/firmware/download/{Uri.EscapeDataString(version)}?device_model={Uri.EscapeDataString(model)}",
            ChecksumSha256: release.ChecksumSha256,
            SizeBytes: release.SizeBytes,
            Signature: release.Signature is null ? null : Convert.ToBase64String(release.Signature),
            SignatureAlgorithm: release.SignatureAlgorithm,
            ReleaseNotes: release.ReleaseNotes,
            Rollout: rollout.Rollout.Name,
            IsRollback: release.Version < running,
            NextCheckSeconds: interval.Next());
    }

    /// <summary>"No update" in the seed's shape, with a next check that points into the rollout's next opening.</summary>
    private UpdateCheckAnswer Deferred(
        string model, FirmwareVersion running, CatalogRollout rollout, string deviceId, Deferral deferral, DateTimeOffset now, string outcome)
    {
        metrics.Checked(model, outcome);
        var next = deferral.NextCheckSeconds(rollout.Rollout.Name, deviceId, now, interval.Next());
        return new UpdateCheckAnswer(false, running.ToString(), running.ToString(), null, null, null, null, null, null, null, false, next);
    }

    /// <summary>Rare (once per update): the check-in confirms an update or reveals a rollback. Done in a
    /// ledger session of its own so the accounting and the halt rule are the status report's.</summary>
    private async Task RecordCheckInOutcomeAsync(string deviceId, long? rolloutId, CancellationToken cancellationToken)
    {
        LifecycleDecision locked;
        long? countedIn;
        await using (var session = await ledger.OpenAsync(deviceId, cancellationToken))
        {
            // decide again on the locked state: a concurrent report may have moved it meanwhile
            if (session.Device is not { Attempt: { } current } device)
            {
                return;
            }

            locked = UpdateLifecycle.OnCheckIn(current.Attempt, FirmwareVersion.Parse(device.CurrentVersion));
            if (locked.NewAttempt is null)
            {
                return;
            }

            countedIn = current.RolloutId ?? rolloutId;
            UpdateRecorder.Record(session, deviceId, countedIn, locked, deviceReport: null);
            await session.CommitAsync(cancellationToken);
            metrics.StatusRecorded(locked.NewAttempt.Status.ToWire());
        }

        await health.AfterCommitAsync(countedIn, locked, deviceId, cancellationToken);
    }
}

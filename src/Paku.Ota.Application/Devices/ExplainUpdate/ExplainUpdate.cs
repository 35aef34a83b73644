using FluentValidation;
using Mediator;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.ExplainUpdate;

/// <summary>"Why is this device (not) updating?": every rollout of the device's model, active or not,
/// with the first rule it fails for this device, and what the device's next check would be offered.
/// It runs <see cref="UpdateSelection.Explain"/> on the same catalog the device check uses, with the
/// device's stored groups and version, so that it cannot disagree with the check.</summary>
public sealed record ExplainUpdate(string? DeviceId) : IQuery<Result<UpdateExplanation>>;

/// <param name="WouldOffer">What the next check (running <see cref="DeviceView.CurrentFirmwareVersion"/>) offers, or null.</param>
/// <param name="CatalogGeneration">The catalog snapshot the answer was computed from.</param>
public sealed record UpdateExplanation(
    DeviceView Device,
    OfferPreview? WouldOffer,
    string Summary,
    IReadOnlyList<RolloutVerdict> Rollouts,
    long CatalogGeneration)
{
    /// <summary>When the chosen rollout may not offer its release now (outside its windows, or paced): why, and when it may.</summary>
    public OfferHoldView? Hold { get; init; }
}

/// <param name="Reason">outside_window or paced.</param>
/// <param name="NextOpening">When asking again can succeed: the next window opening or pacing minute; null when not foreseeable.</param>
public sealed record OfferHoldView(string Rollout, string Reason, string Sentence, DateTimeOffset? NextOpening);

public sealed record OfferPreview(string Rollout, string Version, string TargetType, bool IsRollback);

/// <param name="TargetsDevice">The rollout's targeting (list, groups, percentage) reaches the device, whatever its state or versions.</param>
/// <param name="Verdict">The first rule that decided, as a wire name (offered, inactive, not_in_group, outside_percentage, held_by_rollback …).</param>
/// <param name="HeldBy">For held_by_rollback: the rollback rollout that targets the device.</param>
/// <param name="Reason">The verdict in a sentence.</param>
/// <param name="Bucket">The device's bucket (0–9999) in this rollout when its percentage was weighed.</param>
/// <param name="Phase">For a phased rollout: the phase it runs and the phase that reaches the device.</param>
public sealed record RolloutVerdict(
    string Rollout,
    string FirmwareVersion,
    string TargetType,
    int RolloutPercentage,
    string State,
    bool TargetsDevice,
    string Verdict,
    string Reason,
    int? Bucket,
    string? PauseReason,
    string? OutrankedBy,
    string? HeldBy,
    DevicePhaseView? Phase = null);

/// <summary>A phased rollout's phases as they concern one device (numbered from 1).</summary>
/// <param name="DevicePhase">The first phase that reaches the device (it stays reached in every later one);
/// null when no phase does, or targeting was not weighed (another model, a rule decided before it).</param>
/// <param name="ReachedNow">The current phase reaches the device.</param>
public sealed record DevicePhaseView(int Current, int Count, string CurrentReach, int? DevicePhase, bool ReachedNow, string? HeldBy);

public sealed class ExplainUpdateValidator : AbstractValidator<ExplainUpdate>
{
    public ExplainUpdateValidator() => RuleFor(q => q.DeviceId).DeviceIdField("device_id");
}

public sealed class ExplainUpdateHandler(IDeviceAdminStore devices, ICatalog catalog, IPaceLedger paces, TimeProvider time)
    : IQueryHandler<ExplainUpdate, Result<UpdateExplanation>>
{
    public async ValueTask<Result<UpdateExplanation>> Handle(ExplainUpdate query, CancellationToken cancellationToken)
    {
        var id = query.DeviceId!;
        if (await devices.GetAsync(id, cancellationToken) is not { } device)
        {
            return Error.NotFound($"There is no device '{id}'; a device registers with its first update check, so it has never checked in.");
        }

        if (!FirmwareVersion.TryParse(device.CurrentFirmwareVersion, out var running, out var versionError))
        {
            return Error.Unprocessable($"Device '{id}' is stored as running '{device.CurrentFirmwareVersion}', which is not a version ({versionError}); its next check will store what it really runs.");
        }

        var snapshot = await catalog.CurrentAsync(cancellationToken);
        var candidates = snapshot.AllCandidatesFor(device.DeviceModel)
            .OrderBy(c => c.Rollout.Name, StringComparer.Ordinal)
            .ToList();
        var explanation = UpdateSelection.Explain(new DeviceSnapshot(id, device.DeviceModel, running, device.Groups), candidates);

        var verdicts = explanation.Candidates.Select(c => new RolloutVerdict(
            c.Candidate.Rollout.Name,
            c.Candidate.Rollout.Version.ToString(),
            c.Candidate.Rollout.TargetType.ToWire(),
            c.Candidate.Rollout.Percentage,
            c.Candidate.Rollout.State.ToWire(),
            c.Candidate.Rollout.Targets(id, device.Groups),
            WireName(c.Verdict),
            c.Sentence,
            c.Bucket,
            c.PauseReason ?? c.Candidate.Rollout.PauseReason,
            c.OutrankedBy?.Rollout.Name,
            c.HeldBy?.Rollout.Name,
            PhaseOf(c.Candidate.Rollout, id, device.Groups))).ToList();
        if (snapshot.BlockOf(id) is { } block)
        {
            // the rollouts still say how they would target the device; nothing is offered while it is blocked
            return new UpdateExplanation(device, null, block.Refusal(), verdicts, snapshot.Generation);
        }

        var offer = explanation.Chosen is { } chosen
            ? new OfferPreview(chosen.Rollout.Name, snapshot.RolloutOf(chosen).Release.Version.ToString(), chosen.Rollout.TargetType.ToWire(), chosen.Rollout.Version < running)
            : null;
        if (explanation.Chosen is { } held && await HoldAsync(device, snapshot.RolloutOf(held), cancellationToken) is { } hold)
        {
            // the same gate as the check: the rollout would offer, but not now
            var index = verdicts.FindIndex(v => v.Rollout == hold.Rollout);
            verdicts[index] = verdicts[index] with { Verdict = hold.Reason, Reason = $"{verdicts[index].Reason}, but {hold.Sentence}" };
            return new UpdateExplanation(device, null, $"no update now: rollout {hold.Rollout} is {hold.Sentence}", verdicts, snapshot.Generation)
            {
                Hold = hold,
            };
        }

        return new UpdateExplanation(device, offer, explanation.Summary, verdicts, snapshot.Generation);
    }

    private async Task<OfferHoldView?> HoldAsync(DeviceView device, CatalogRollout chosen, CancellationToken cancellationToken)
    {
        var rollout = chosen.Rollout;
        var underway = device.Update is { } update && UpdateStatuses.TryParse(update.Status, out var status)
            ? new UpdateAttempt(update.TargetVersion, update.FromVersion, status, update.Progress)
            : null;
        if (OfferGate.IsUnderway(underway, rollout))
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (OfferGate.OutsideWindow(rollout, now) is { } closed)
        {
            return new OfferHoldView(rollout.Name, "outside_window", closed.Reason, closed.OpensAt);
        }

        if (rollout.Pace.IsNone)
        {
            return null;
        }

        // a device already offered this release was admitted then; only a first offer spends the pace
        var last = await devices.LastOfferAsync(device.DeviceId, cancellationToken);
        if (last is not null && last.Rollout == rollout.Name && last.Version == chosen.Release.Version.ToString())
        {
            return null;
        }

        var decision = rollout.Pace.Decide(await paces.ReadUsageAsync(chosen.Id, cancellationToken), now);
        return decision.Admitted ? null : new OfferHoldView(rollout.Name, "paced", decision.Reason, decision.RetryFrom);
    }

    private static DevicePhaseView? PhaseOf(Rollout rollout, string deviceId, IReadOnlyCollection<string> groups)
    {
        if (rollout.Phasing is not { } phasing)
        {
            return null;
        }

        var at = phasing.Plan.PhaseReaching(rollout.Name, deviceId, groups);
        return new DevicePhaseView(
            phasing.Index + 1, phasing.Plan.Count, phasing.Current.Reach, at < 0 ? null : at + 1, at >= 0 && at <= phasing.Index, phasing.HeldBy);
    }

    private static string WireName(SelectionVerdict verdict) => verdict switch
    {
        SelectionVerdict.Offered => "offered",
        SelectionVerdict.OtherModel => "other_model",
        SelectionVerdict.Inactive => "inactive",
        SelectionVerdict.ReleaseWithdrawn => "release_withdrawn",
        SelectionVerdict.NotListed => "not_listed",
        SelectionVerdict.NoGroups => "no_groups",
        SelectionVerdict.NotInGroup => "not_in_group",
        SelectionVerdict.OutsidePercentage => "outside_percentage",
        SelectionVerdict.AlreadyOnVersion => "already_on_version",
        SelectionVerdict.NotNewer => "not_newer",
        SelectionVerdict.BelowMinVersion => "below_min_version",
        SelectionVerdict.Outranked => "outranked",
        SelectionVerdict.HeldByRollback => "held_by_rollback",
        _ => throw new ArgumentOutOfRangeException(nameof(verdict), verdict, "no wire name"),
    };
}

using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Devices.GetDevice;

/// <summary>One device with what its last check offered, its outcome per rollout and its latest history.</summary>
public sealed record GetDevice(string? DeviceId) : IQuery<Result<DeviceDetail>>
{
    /// <summary>The history shown here; GET /api/admin/update-status?device_id= pages further.</summary>
    public const int HistoryShown = 50;
}

public sealed record DeviceDetail(
    string DeviceId,
    string DeviceModel,
    string CurrentFirmwareVersion,
    IReadOnlyList<string> Groups,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    DeviceUpdateView? Update,
    DeviceOfferView? LastOffer,
    IReadOnlyList<DeviceRolloutView> Rollouts,
    IReadOnlyList<UpdateHistoryEntry> History,
    int HistoryLimit,
    DeviceBlockView? Blocked);

public sealed class GetDeviceValidator : AbstractValidator<GetDevice>
{
    public GetDeviceValidator() => RuleFor(q => q.DeviceId).DeviceIdField("device_id");
}

public sealed class GetDeviceHandler(IDeviceAdminStore devices, IUpdateHistory history) : IQueryHandler<GetDevice, Result<DeviceDetail>>
{
    public async ValueTask<Result<DeviceDetail>> Handle(GetDevice query, CancellationToken cancellationToken)
    {
        var id = query.DeviceId!;
        if (await devices.GetAsync(id, cancellationToken) is not { } device)
        {
            return Error.NotFound($"There is no device '{id}'; devices register with their first update check.");
        }

        var offer = await devices.LastOfferAsync(id, cancellationToken);
        var rollouts = await devices.RolloutsOfAsync(id, cancellationToken);
        var entries = await history.ListAsync(new UpdateHistoryFilter(id, null, null, GetDevice.HistoryShown), cancellationToken);
        return new DeviceDetail(
            device.DeviceId, device.DeviceModel, device.CurrentFirmwareVersion, device.Groups, device.FirstSeen, device.LastSeen,
            device.Update, offer, rollouts, entries, GetDevice.HistoryShown, device.Blocked);
    }
}

using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.ListDevices;

/// <summary>Registered devices, by id, filtered by model, group and running version (by SemVer precedence),
/// one page at a time; <see cref="DevicePage.Total"/> counts every match.</summary>
public sealed record ListDevices(string? DeviceModel, string? Group, string? Version, string? Limit, string? Offset)
    : IQuery<Result<DevicePage>>
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
}

public sealed class ListDevicesValidator : AbstractValidator<ListDevices>
{
    public ListDevicesValidator()
    {
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model").When(q => q.DeviceModel is not null);
        RuleFor(q => q.Group).GroupField("group");
        RuleFor(q => q.Version).VersionField("version", optional: true);
        RuleFor(q => q.Limit).WholeNumberField("limit", 1, ListDevices.MaxLimit);
        RuleFor(q => q.Offset).WholeNumberField("offset", 0, int.MaxValue);
    }
}

public sealed class ListDevicesHandler(IDeviceAdminStore devices) : IQueryHandler<ListDevices, Result<DevicePage>>
{
    public async ValueTask<Result<DevicePage>> Handle(ListDevices query, CancellationToken cancellationToken)
    {
        var filter = new DeviceFilter(
            query.DeviceModel,
            query.Group,
            query.Version is null ? null : FirmwareVersion.Parse(query.Version).ToString(),
            AdminQueryRules.WholeNumberOr(query.Limit, ListDevices.DefaultLimit),
            AdminQueryRules.WholeNumberOr(query.Offset, 0));
        return await devices.ListAsync(filter, cancellationToken);
    }
}

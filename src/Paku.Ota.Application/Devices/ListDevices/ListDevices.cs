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
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);

    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>The update statuses a device may be filtered by: a lifecycle status, <c>failing</c> (failed, rolled
    /// back or timed out) or <c>none</c> (never started an update).</summary>
    public static readonly IReadOnlyList<string> Statuses = ["downloading", "installing", "success", "confirmed", "failed", "rolled_back", "timed_out", "failing", "none"];

    /// <summary>Part of the device id, in any case (the console's search box); null matches every id.</summary>
    public string? Search { get; init; }

    /// <summary>One of <see cref="Statuses"/>; null matches every device.</summary>
    public string? Status { get; init; }
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
        RuleFor(q => q.Search).TextField("search", 64);
        RuleFor(q => q.Status).Must(s => s is null || ListDevices.Statuses.Contains(s)).OverridePropertyName("status")
            .WithMessage(q => $"status must be one of {string.Join(", ", ListDevices.Statuses)}, not '{q.Status}'.");
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
            AdminQueryRules.WholeNumberOr(query.Offset, 0))
        {
            Search = string.IsNullOrWhiteSpace(query.Search) ? null : query.Search.Trim(),
            Statuses = query.Status switch
            {
                null => null,
                "failing" => ["failed", "rolled_back", "timed_out"],
                "none" => [],
                var status => [status],
            },
        };
        return await devices.ListAsync(filter, cancellationToken);
    }
}

using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Devices;

namespace Paku.Ota.Application.Devices.SetGroups;

/// <summary>Replaces the groups of many devices at once, all or nothing: one unknown device or bad
/// group and no device is changed.</summary>
public sealed record SetGroupsOfDevices(IReadOnlyDictionary<string, IReadOnlyList<string>>? Devices) : ICommand<Result<GroupsAssigned>>
{
    public const int MaxDevices = 10_000;
}

public sealed record GroupsAssigned(int Updated);

public sealed class SetGroupsOfDevicesValidator : AbstractValidator<SetGroupsOfDevices>
{
    // Enough to fix the first few; ten thousand messages help nobody.
    private const int ReportedDevices = 5;

    public SetGroupsOfDevicesValidator() =>
        RuleFor(c => c.Devices).Custom((devices, context) =>
        {
            if (devices is null || devices.Count == 0)
            {
                context.AddFailure("devices", "devices is required: an object mapping device ids to their groups, e.g. {\"esp32_001\": [\"location:warehouse\"]}.");
                return;
            }

            if (devices.Count > SetGroupsOfDevices.MaxDevices)
            {
                context.AddFailure("devices", $"devices lists {devices.Count} devices; at most {SetGroupsOfDevices.MaxDevices} may be assigned at once.");
                return;
            }

            var reported = 0;
            foreach (var (id, groups) in devices)
            {
                bool wrong;
                if (!DeviceId.IsValid(id, out var error))
                {
                    context.AddFailure($"devices.{id}", $"devices: {error}.");
                    wrong = true;
                }
                else
                {
                    wrong = AdminQueryRules.CheckGroups(context, $"devices.{id}", groups);
                }

                if (wrong && ++reported >= ReportedDevices)
                {
                    context.AddFailure("devices", $"devices: checking stopped at the {ReportedDevices}th device with a problem; fix these first.");
                    return;
                }
            }
        });
}

public sealed class SetGroupsOfDevicesHandler(IDeviceAdminStore devices) : ICommandHandler<SetGroupsOfDevices, Result<GroupsAssigned>>
{
    public async ValueTask<Result<GroupsAssigned>> Handle(SetGroupsOfDevices command, CancellationToken cancellationToken)
    {
        var groups = command.Devices!.ToDictionary(
            d => d.Key, IReadOnlyList<string> (d) => [.. d.Value.Distinct(StringComparer.Ordinal)], StringComparer.Ordinal);
        if (await devices.SetGroupsAsync(groups, cancellationToken) is { } unknown)
        {
            var more = unknown.Count > unknown.DeviceIds.Count ? $" and {unknown.Count - unknown.DeviceIds.Count} more" : "";
            return new Error(
                ErrorKind.NotFound, "Not found",
                $"No device was changed: {string.Join(", ", unknown.DeviceIds)}{more} {(unknown.Count == 1 ? "is not a registered device" : "are not registered devices")}.",
                new Dictionary<string, string[]> { ["devices"] = [.. unknown.DeviceIds.Select(id => $"devices.{id}: there is no device '{id}'")] });
        }

        return new GroupsAssigned(groups.Count);
    }
}

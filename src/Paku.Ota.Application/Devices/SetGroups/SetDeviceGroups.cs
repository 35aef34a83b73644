using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Devices.SetGroups;

/// <summary>Replaces one device's groups (what group rollouts match against). Stored in
/// <c>metadata-&gt;'groups'</c>, where the seed's SQL reads and writes them too.</summary>
public sealed record SetDeviceGroups(string? DeviceId, IReadOnlyList<string>? Groups) : ICommand<Result<DeviceView>>;

public sealed class SetDeviceGroupsValidator : AbstractValidator<SetDeviceGroups>
{
    public SetDeviceGroupsValidator()
    {
        RuleFor(c => c.DeviceId).DeviceIdField("device_id");
        RuleFor(c => c.Groups).Custom((groups, context) => AdminQueryRules.CheckGroups(context, "groups", groups));
    }
}

public sealed class SetDeviceGroupsHandler(IDeviceAdminStore devices) : ICommandHandler<SetDeviceGroups, Result<DeviceView>>
{
    public async ValueTask<Result<DeviceView>> Handle(SetDeviceGroups command, CancellationToken cancellationToken)
    {
        var id = command.DeviceId!;
        if (!await devices.SetGroupsAsync(id, [.. command.Groups!.Distinct(StringComparer.Ordinal)], cancellationToken))
        {
            return Error.NotFound($"There is no device '{id}'; devices register with their first update check.");
        }

        return await devices.GetAsync(id, cancellationToken) is { } device
            ? device
            : Error.NotFound($"Device '{id}' was removed right after its groups were set.");
    }
}

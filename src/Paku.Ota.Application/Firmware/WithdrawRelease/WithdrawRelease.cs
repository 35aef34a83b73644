using System.Globalization;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Firmware.GetRelease;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware.WithdrawRelease;

/// <summary>An admin withdraws a release: devices are no longer offered or served it, and the active
/// rollouts that offer it are paused, saying why.</summary>
public sealed record WithdrawRelease(string? DeviceModel, string? Version, string? Reason) : ICommand<Result<Withdrawal>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

public sealed class WithdrawReleaseHandler(IReleaseStore releases) : ICommandHandler<WithdrawRelease, Result<Withdrawal>>
{
    public async ValueTask<Result<Withdrawal>> Handle(WithdrawRelease command, CancellationToken cancellationToken)
    {
        var model = command.DeviceModel!;
        var version = FirmwareVersion.Parse(command.Version!);
        var release = await releases.FindAsync(model, version, cancellationToken);
        if (release is null)
        {
            return GetReleaseHandler.NotFound(model, version);
        }

        var reason = string.IsNullOrWhiteSpace(command.Reason) ? null : command.Reason.Trim();
        var pauseReason = reason is null ? $"release {release.Version} withdrawn" : $"release {release.Version} withdrawn: {reason}";
        var withdrawal = release.WithdrawnAt is null ? await releases.WithdrawAsync(release.Id, reason, pauseReason, cancellationToken) : null;
        if (withdrawal is not null)
        {
            return withdrawal;
        }

        var again = release.WithdrawnAt is null ? await releases.FindAsync(model, version, cancellationToken) : release;
        var when = again?.WithdrawnAt is { } at ? $" at {at.ToString("u", CultureInfo.InvariantCulture)}" : "";
        var why = again?.WithdrawnReason is { } earlier ? $" ({earlier})" : "";
        return Error.Conflict($"Release {release.Version} for device model '{model}' was already withdrawn{when}{why}.");
    }
}

using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Devices.Blocking;

/// <summary>A blocked (revoked) device: refused on every request, whatever its certificate says, on
/// every replica within the catalog refresh, until an operator unblocks it.</summary>
public sealed record DeviceBlock(string DeviceId, string Reason, string BlockedBy, DateTimeOffset BlockedAt)
{
    /// <summary>What a refused request of the device is told.</summary>
    public string Refusal() =>
        $"Device '{DeviceId}' is blocked: {Reason} (blocked by {BlockedBy} at {BlockedAt:yyyy-MM-dd HH:mm:ss}Z). " +
        "Every request of this device is refused until an operator unblocks it.";
}

public interface IDeviceBlockStore
{
    /// <summary>Blocks the device, or replaces the reason of a block it already has.</summary>
    Task<DeviceBlock> BlockAsync(string deviceId, string reason, string actor, CancellationToken cancellationToken);

    /// <summary>Lifts the device's block; false when it had none.</summary>
    Task<bool> UnblockAsync(string deviceId, CancellationToken cancellationToken);
}

/// <summary>Blocks a device (a stolen or cloned certificate). A device that never checked in may be
/// blocked too, so that a certificate can be revoked before it is first used.</summary>
public sealed record BlockDevice(string? DeviceId, string? Reason, string Actor) : ICommand<Result<DeviceBlock>>
{
    public const int MaxReasonLength = 500;
}

public sealed class BlockDeviceValidator : AbstractValidator<BlockDevice>
{
    public BlockDeviceValidator()
    {
        RuleFor(c => c.DeviceId).DeviceIdField("device_id");
        RuleFor(c => c.Reason)
            .Must(reason => !string.IsNullOrWhiteSpace(reason)).OverridePropertyName("reason")
            .WithMessage("reason is required: say why the device is blocked (it is told to the device and kept in the audit).");
        RuleFor(c => c.Reason).TextField("reason", BlockDevice.MaxReasonLength);
    }
}

public sealed class BlockDeviceHandler(IDeviceBlockStore blocks) : ICommandHandler<BlockDevice, Result<DeviceBlock>>
{
    public async ValueTask<Result<DeviceBlock>> Handle(BlockDevice command, CancellationToken cancellationToken) =>
        await blocks.BlockAsync(command.DeviceId!, command.Reason!.Trim(), command.Actor, cancellationToken);
}

public sealed record UnblockDevice(string? DeviceId) : ICommand<Result<DeviceUnblocked>>;

public sealed record DeviceUnblocked(string DeviceId);

public sealed class UnblockDeviceValidator : AbstractValidator<UnblockDevice>
{
    public UnblockDeviceValidator() => RuleFor(c => c.DeviceId).DeviceIdField("device_id");
}

public sealed class UnblockDeviceHandler(IDeviceBlockStore blocks) : ICommandHandler<UnblockDevice, Result<DeviceUnblocked>>
{
    public async ValueTask<Result<DeviceUnblocked>> Handle(UnblockDevice command, CancellationToken cancellationToken) =>
        await blocks.UnblockAsync(command.DeviceId!, cancellationToken)
            ? new DeviceUnblocked(command.DeviceId!)
            : Error.NotFound($"Device '{command.DeviceId}' is not blocked.");
}

using FluentValidation;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Firmware.WithdrawRelease;

public sealed class WithdrawReleaseValidator : AbstractValidator<WithdrawRelease>
{
    public const int MaxReasonLength = 1000;

    public WithdrawReleaseValidator()
    {
        RuleFor(c => c.DeviceModel).DeviceModelField("device_model");
        RuleFor(c => c.Version).VersionField("version");
        RuleFor(c => c.Reason).TextField("reason", MaxReasonLength);
    }
}

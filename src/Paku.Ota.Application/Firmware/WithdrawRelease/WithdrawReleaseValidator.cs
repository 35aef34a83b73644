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
        RuleFor(c => c.Reason).MaximumLength(MaxReasonLength).OverridePropertyName("reason")
            .WithMessage(c => $"reason is {c.Reason!.Length} characters long; at most {MaxReasonLength} are allowed.");
    }
}

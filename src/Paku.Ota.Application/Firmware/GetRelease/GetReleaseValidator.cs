using FluentValidation;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Firmware.GetRelease;

public sealed class GetReleaseValidator : AbstractValidator<GetRelease>
{
    public GetReleaseValidator()
    {
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model");
        RuleFor(q => q.Version).VersionField("version");
    }
}

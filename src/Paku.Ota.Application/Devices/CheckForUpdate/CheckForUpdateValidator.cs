using FluentValidation;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Devices.CheckForUpdate;

public sealed class CheckForUpdateValidator : AbstractValidator<CheckForUpdate>
{
    public CheckForUpdateValidator()
    {
        RuleFor(q => q.DeviceId).DeviceIdField("device_id");
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model");
        RuleFor(q => q.CurrentVersion).VersionField("current_version");
    }
}

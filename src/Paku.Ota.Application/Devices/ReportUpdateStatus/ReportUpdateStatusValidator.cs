using FluentValidation;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Devices.ReportUpdateStatus;

public sealed class ReportUpdateStatusValidator : AbstractValidator<ReportUpdateStatus>
{
    public const int MaxErrorMessageLength = 2000;

    public ReportUpdateStatusValidator()
    {
        RuleFor(c => c.PathDeviceId).DeviceIdField("device_id");
        RuleFor(c => c.DeviceId)
            .Must((c, bodyId) => bodyId is null || string.Equals(bodyId, c.PathDeviceId, StringComparison.Ordinal))
            .OverridePropertyName("device_id")
            .WithMessage(c => $"device_id in the body ('{c.DeviceId}') does not match the device in the URL ('{c.PathDeviceId}').");
        RuleFor(c => c.FirmwareVersion).VersionField("firmware_version");
        RuleFor(c => c.Status).Custom((status, context) =>
        {
            if (string.IsNullOrEmpty(status))
            {
                context.AddFailure("status", $"status is required: one of {UpdateStatuses.DeviceReportableWireNames}.");
            }
            else if (!UpdateStatuses.TryParse(status, out var parsed) || !parsed.IsDeviceReportable())
            {
                context.AddFailure("status", $"status '{status}' is not one a device reports; use one of {UpdateStatuses.DeviceReportableWireNames}.");
            }
        });
        RuleFor(c => c.ProgressPercent)
            .InclusiveBetween(0, 100).OverridePropertyName("progress_percent")
            .WithMessage(c => $"progress_percent must be from 0 to 100, not {c.ProgressPercent}.");
        RuleFor(c => c.ErrorMessage).TextField("error_message", MaxErrorMessageLength);
    }
}

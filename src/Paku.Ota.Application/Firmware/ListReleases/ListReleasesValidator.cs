using System.Globalization;
using FluentValidation;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Firmware.ListReleases;

public sealed class ListReleasesValidator : AbstractValidator<ListReleases>
{
    public ListReleasesValidator()
    {
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model").When(q => !string.IsNullOrEmpty(q.DeviceModel));
        RuleFor(q => q.Limit)
            .Must(limit => int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= ListReleases.MaxLimit)
            .When(q => !string.IsNullOrEmpty(q.Limit))
            .OverridePropertyName("limit")
            .WithMessage(q => $"limit must be a whole number from 1 to {ListReleases.MaxLimit}, not '{(q.Limit!.Length <= 20 ? q.Limit : q.Limit[..20] + "…")}'.");
    }
}

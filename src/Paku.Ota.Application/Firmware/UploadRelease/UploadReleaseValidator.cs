using FluentValidation;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Firmware.UploadRelease;

public sealed class UploadReleaseValidator : AbstractValidator<UploadRelease>
{
    public const int MaxTextLength = 10_000;

    public UploadReleaseValidator()
    {
        RuleFor(c => c.Version).VersionField("version");
        RuleFor(c => c.DeviceModel).DeviceModelField("device_model");
        RuleFor(c => c.MinVersion).VersionField("min_version").When(c => !string.IsNullOrEmpty(c.MinVersion));
        RuleFor(c => c.Changelog).TextField("changelog", MaxTextLength);
        RuleFor(c => c.ReleaseNotes).TextField("release_notes", MaxTextLength);
        RuleFor(c => c.IsSigned).Must(flag => QueryFlag.TryParse(flag, out _)).OverridePropertyName("is_signed")
            .WithMessage(c => $"is_signed must be {QueryFlag.Accepted}, not '{Shown(c.IsSigned)}'.");
        RuleFor(c => c.SkipImageCheck).Must(flag => QueryFlag.TryParse(flag, out _)).OverridePropertyName("skip_image_check")
            .WithMessage(c => $"skip_image_check must be {QueryFlag.Accepted}, not '{Shown(c.SkipImageCheck)}'.");
        RuleFor(c => c.File).Custom((file, context) =>
        {
            if (ImageProblem(file, context.InstanceToValidate.SkipImageCheck) is { } problem)
            {
                context.AddFailure("file", problem);
            }
        });
        RuleFor(c => c.Signature).Must(signature => signature is null || signature.Length > 0).OverridePropertyName("signature")
            .WithMessage("signature is empty: send the output of openssl dgst -sha256 -sign, or leave the part out.");
    }

    private static string? ImageProblem(UploadedImage? file, string? skipImageCheck)
    {
        if (file is null)
        {
            return "file is required: send the image as multipart/form-data part 'file' (curl -F file=@firmware.bin).";
        }

        if (file.ExceedsLimit)
        {
            return $"file is larger than the upload limit of {Size(file.Limit)}, set by Ota:Upload:MaxBytes.";
        }

        if (file.Length == 0)
        {
            return "file is empty.";
        }

        var first = file.Content.Span[0];
        if (first == UploadedImage.EspImageMagic || (QueryFlag.TryParse(skipImageCheck, out var skip) && skip))
        {
            return null;
        }

        var what = file.Content.Span.StartsWith("\u007fELF"u8)
            ? "it is an ELF file: upload the .bin the build makes from it (e.g. .pio/build/esp32/firmware.bin), not the .elf"
            : $"it starts with 0x{first:X2}, so it is not an ESP application image";
        return $"file does not start with the ESP app-image magic byte 0xE9: {what}. For a target that is not an ESP chip, add skip_image_check=true.";
    }

    private static string Size(long bytes) =>
        bytes % (1024 * 1024) == 0 ? $"{bytes} bytes ({bytes / (1024 * 1024)} MiB)"
        : bytes % 1024 == 0 ? $"{bytes} bytes ({bytes / 1024} KiB)"
        : $"{bytes} bytes";

    private static string Shown(string? text) => text is null ? "" : text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");
}

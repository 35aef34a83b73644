using FluentValidation;
using Mediator;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Firmware.Artifacts;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware.GetFirmwareBinary;

/// <summary>A device fetches a release's image. The model is the one asked for, else the one the
/// device registered with, else the only model that has this version.</summary>
public sealed record GetFirmwareBinary(string? Version, string? DeviceModel, string? DeviceId) : IQuery<Result<FirmwareBinary>>;

/// <summary>The image to send: either <see cref="Image"/> (the service streams it; the caller disposes the
/// lease once the response is written) or <see cref="OffloadedTo"/> (a signed link the device is redirected to).</summary>
public sealed record FirmwareBinary(string Model, string Version, string ChecksumSha256, long SizeBytes, ImageLease? Image, Uri? OffloadedTo);

public sealed class GetFirmwareBinaryValidator : AbstractValidator<GetFirmwareBinary>
{
    public GetFirmwareBinaryValidator()
    {
        RuleFor(q => q.Version).VersionField("version");
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model").When(q => q.DeviceModel is not null);
    }
}

public sealed class GetFirmwareBinaryHandler(
    ICatalog catalog, IDeviceStore devices, IImageSource images, IDownloadLinks links, TimeProvider time, OtaMetrics metrics)
    : IQueryHandler<GetFirmwareBinary, Result<FirmwareBinary>>
{
    public async ValueTask<Result<FirmwareBinary>> Handle(GetFirmwareBinary query, CancellationToken cancellationToken)
    {
        var version = FirmwareVersion.Parse(query.Version!);
        var snapshot = await catalog.CurrentAsync(cancellationToken);
        var model = query.DeviceModel;
        if (model is null && query.DeviceId is not null)
        {
            model = await devices.FindModelAsync(query.DeviceId, cancellationToken);
        }

        CatalogRelease? release;
        if (model is not null)
        {
            release = snapshot.Release(model, version);
            if (release is null)
            {
                return Error.NotFound($"There is no release {version} for device model '{model}'.");
            }
        }
        else
        {
            var candidates = snapshot.ReleasesWithVersion(version);
            if (candidates.Count == 0)
            {
                return Error.NotFound($"There is no release {version}.");
            }

            if (candidates.Count > 1)
            {
                return Error.Validation("device_model",
                    $"Release {version} exists for several device models ({string.Join(", ", candidates.Select(c => c.Model).Order(StringComparer.Ordinal))}); say which with device_model.");
            }

            release = candidates[0];
        }

        if (release.WithdrawnAt is not null)
        {
            return Error.Gone($"Release {release.Version} for '{release.Model}' was withdrawn and is no longer served.");
        }

        if (links.LinkFor(release.ChecksumSha256, release.SizeBytes, time.GetUtcNow()) is { } link)
        {
            metrics.Downloaded(release.Model, release.SizeBytes);
            return new FirmwareBinary(release.Model, release.Version.ToString(), release.ChecksumSha256, release.SizeBytes, null, link);
        }

        ImageLease? image;
        try
        {
            image = await images.AcquireAsync(release.ChecksumSha256, cancellationToken);
        }
        catch (CorruptArtifactException)
        {
            return new Error(ErrorKind.Unavailable, "Image damaged",
                $"The stored image of release {release.Version} for '{release.Model}' is damaged and is not served; the operators have been told. Retry later.");
        }

        if (image is null)
        {
            return Error.NotFound($"The image of release {release.Version} for '{release.Model}' is missing from storage.");
        }

        metrics.Downloaded(release.Model, image.Content.Length);
        return new FirmwareBinary(release.Model, release.Version.ToString(), release.ChecksumSha256, image.Content.Length, image, null);
    }
}

using FluentValidation;
using Mediator;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware.GetFirmwareBinary;

/// <summary>A device fetches a release's image. The model is the one asked for, else the one the
/// device registered with, else the only model that has this version.</summary>
public sealed record GetFirmwareBinary(string? Version, string? DeviceModel, string? DeviceId) : IQuery<Result<FirmwareBinary>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

public sealed record FirmwareBinary(string Model, string Version, string ChecksumSha256, ReadOnlyMemory<byte> Content);

/// <summary>Firmware images by SHA-256. Images never change, so implementations may cache freely.</summary>
public interface IBinaryStore
{
    ValueTask<ReadOnlyMemory<byte>?> GetAsync(string sha256, CancellationToken cancellationToken);
}

public sealed class GetFirmwareBinaryValidator : AbstractValidator<GetFirmwareBinary>
{
    public GetFirmwareBinaryValidator()
    {
        RuleFor(q => q.Version).VersionField("version");
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model").When(q => q.DeviceModel is not null);
    }
}

public sealed class GetFirmwareBinaryHandler(ICatalog catalog, IDeviceStore devices, IBinaryStore binaries, OtaMetrics metrics)
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

        var content = await binaries.GetAsync(release.ChecksumSha256, cancellationToken);
        if (content is null)
        {
            return Error.NotFound($"The image of release {release.Version} for '{release.Model}' is missing from storage.");
        }

        metrics.Downloaded(release.Model, content.Value.Length);
        return new FirmwareBinary(release.Model, release.Version.ToString(), release.ChecksumSha256, content.Value);
    }
}

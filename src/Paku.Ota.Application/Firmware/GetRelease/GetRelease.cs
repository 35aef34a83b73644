using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware.GetRelease;

/// <summary>One release of a model; the version matches by SemVer precedence (a leading v is fine).</summary>
public sealed record GetRelease(string? DeviceModel, string? Version) : IQuery<Result<ReleaseRecord>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

public sealed class GetReleaseHandler(IReleaseStore releases) : IQueryHandler<GetRelease, Result<ReleaseRecord>>
{
    public async ValueTask<Result<ReleaseRecord>> Handle(GetRelease query, CancellationToken cancellationToken)
    {
        var version = FirmwareVersion.Parse(query.Version!);
        var release = await releases.FindAsync(query.DeviceModel!, version, cancellationToken);
        return release is null ? NotFound(query.DeviceModel!, version) : release;
    }

    internal static Error NotFound(string model, FirmwareVersion version) =>
        Error.NotFound($"There is no release {version} for device model '{model}'.");
}

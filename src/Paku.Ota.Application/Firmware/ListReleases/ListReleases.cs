using System.Globalization;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Firmware.ListReleases;

/// <summary>Releases newest first, of one model (<paramref name="DeviceModel"/>) or of all. <paramref name="Limit"/>
/// is the query text as sent, so a non-number is reported by name like any other bad value.</summary>
public sealed record ListReleases(string? DeviceModel, string? Limit) : IQuery<Result<IReadOnlyList<ReleaseRecord>>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);

    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public int LimitValue => string.IsNullOrEmpty(Limit) ? DefaultLimit : int.Parse(Limit, NumberStyles.None, CultureInfo.InvariantCulture);
}

public sealed class ListReleasesHandler(IReleaseStore releases) : IQueryHandler<ListReleases, Result<IReadOnlyList<ReleaseRecord>>>
{
    public async ValueTask<Result<IReadOnlyList<ReleaseRecord>>> Handle(ListReleases query, CancellationToken cancellationToken)
    {
        var model = string.IsNullOrEmpty(query.DeviceModel) ? null : query.DeviceModel;
        return Result<IReadOnlyList<ReleaseRecord>>.Ok(await releases.ListAsync(model, query.LimitValue, cancellationToken));
    }
}

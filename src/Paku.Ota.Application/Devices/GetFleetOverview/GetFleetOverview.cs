using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.GetFleetOverview;

/// <summary>The fleet at a glance, for the console's first page: devices per model and running version,
/// how many were seen recently, how many run something older than their model's newest release, and how
/// many are failing (their last update failed, came back on the old version or timed out).</summary>
public sealed record GetFleetOverview : IQuery<Result<FleetOverview>>
{
    /// <summary>A device checks in hourly by default; one that has not for a day is worth a look.</summary>
    public static readonly TimeSpan RecentlySeen = TimeSpan.FromHours(24);
}

public sealed record FleetOverview(
    long Devices,
    long SeenRecently,
    long NeedingUpdate,
    long Failing,
    IReadOnlyList<FleetModelVersion> Versions,
    DateTimeOffset SeenSince);

/// <param name="NewestRelease">The model's newest release that is not withdrawn, or null when it has none.</param>
/// <param name="NeedsUpdate">The version is older (by SemVer precedence) than <paramref name="NewestRelease"/>.</param>
public sealed record FleetModelVersion(
    string DeviceModel,
    string Version,
    long Devices,
    long SeenRecently,
    long Failing,
    string? NewestRelease,
    bool NeedsUpdate);

/// <summary>Counts per model and running version, as stored.</summary>
public sealed record FleetCount(string DeviceModel, string Version, long Devices, long SeenRecently, long Failing);

public interface IFleetQueries
{
    Task<IReadOnlyList<FleetCount>> CountAsync(DateTimeOffset seenSince, CancellationToken cancellationToken);

    /// <summary>Per model, the versions of its releases that are not withdrawn.</summary>
    Task<IReadOnlyList<(string DeviceModel, string Version)>> ReleasedVersionsAsync(CancellationToken cancellationToken);
}

public sealed class GetFleetOverviewHandler(IFleetQueries fleet, TimeProvider time) : IQueryHandler<GetFleetOverview, Result<FleetOverview>>
{
    public async ValueTask<Result<FleetOverview>> Handle(GetFleetOverview query, CancellationToken cancellationToken)
    {
        var since = time.GetUtcNow() - GetFleetOverview.RecentlySeen;
        var counts = await fleet.CountAsync(since, cancellationToken);

        // Versions are compared by the Domain's SemVer precedence, never as text.
        var newest = new Dictionary<string, FirmwareVersion>(StringComparer.Ordinal);
        foreach (var (model, text) in await fleet.ReleasedVersionsAsync(cancellationToken))
        {
            if (FirmwareVersion.TryParse(text, out var version, out _) && (!newest.TryGetValue(model, out var best) || version > best))
            {
                newest[model] = version!;
            }
        }

        var rows = counts
            .Select(c =>
            {
                var latest = newest.GetValueOrDefault(c.DeviceModel);
                var needs = latest is not null && FirmwareVersion.TryParse(c.Version, out var running, out _) && running < latest;
                return new FleetModelVersion(c.DeviceModel, c.Version, c.Devices, c.SeenRecently, c.Failing, latest?.ToString(), needs);
            })
            .OrderBy(r => r.DeviceModel, StringComparer.Ordinal)
            .ThenByDescending(r => FirmwareVersion.TryParse(r.Version, out var v, out _) ? v : null)
            .ToList();
        return new FleetOverview(
            rows.Sum(r => r.Devices), rows.Sum(r => r.SeenRecently), rows.Where(r => r.NeedsUpdate).Sum(r => r.Devices), rows.Sum(r => r.Failing),
            rows, since);
    }
}

using Paku.Ota.Application.Devices.Blocking;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Catalog;

/// <summary>A release's metadata as the device paths need it (never its bytes).</summary>
public sealed record CatalogRelease(
    long Id,
    string Model,
    FirmwareVersion Version,
    FirmwareVersion? MinVersion,
    string ChecksumSha256,
    long SizeBytes,
    byte[]? Signature,
    string? SignatureAlgorithm,
    string? ReleaseNotes,
    DateTimeOffset? WithdrawnAt)
{
    public ReleaseInfo Info { get; } = new(Model, Version, MinVersion, WithdrawnAt is not null);
}

/// <summary>A rollout with its storage id and its release.</summary>
public sealed record CatalogRollout(long Id, Rollout Rollout, CatalogRelease Release)
{
    public RolloutCandidate Candidate { get; } = new(Rollout, Release.Info);
}

/// <summary>An immutable picture of every rollout, release and device block, shared by all requests until
/// an admin change replaces it. The device check reads only this, never the database, for targeting.</summary>
public sealed class CatalogSnapshot
{
    private static readonly IReadOnlyList<RolloutCandidate> NoCandidates = [];
    private readonly Dictionary<string, RolloutCandidate[]> _activeByModel;
    private readonly Dictionary<string, RolloutCandidate[]> _allByModel;
    private readonly Dictionary<RolloutCandidate, CatalogRollout> _byCandidate;
    private readonly Dictionary<long, CatalogRollout> _byId;
    private readonly Dictionary<(string Model, FirmwareVersion Version), CatalogRelease> _releases;
    private readonly Dictionary<FirmwareVersion, CatalogRelease[]> _releasesByVersion;
    private readonly Dictionary<string, DeviceBlock> _blocks;

    public CatalogSnapshot(long generation, IEnumerable<CatalogRelease> releases, IEnumerable<CatalogRollout> rollouts, IEnumerable<DeviceBlock>? blocks = null)
    {
        _blocks = (blocks ?? []).ToDictionary(b => b.DeviceId, StringComparer.Ordinal);
        Generation = generation;
        Releases = [.. releases];
        Rollouts = [.. rollouts];
        _byCandidate = Rollouts.ToDictionary(r => r.Candidate, (IEqualityComparer<RolloutCandidate>)ReferenceEqualityComparer.Instance);
        _byId = Rollouts.ToDictionary(r => r.Id);
        _allByModel = Rollouts.GroupBy(r => r.Rollout.DeviceModel, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(r => r.Candidate).ToArray(), StringComparer.Ordinal);
        _activeByModel = Rollouts.Where(r => r.Rollout.IsActive && r.Release.WithdrawnAt is null)
            .GroupBy(r => r.Rollout.DeviceModel, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(r => r.Candidate).ToArray(), StringComparer.Ordinal);
        _releases = Releases.ToDictionary(r => (r.Model, r.Version));
        _releasesByVersion = Releases.GroupBy(r => r.Version).ToDictionary(g => g.Key, g => g.ToArray());
    }

    public static CatalogSnapshot Empty { get; } = new(0, [], []);

    public long Generation { get; }

    public IReadOnlyList<CatalogRelease> Releases { get; }

    public IReadOnlyList<CatalogRollout> Rollouts { get; }

    /// <summary>The rollouts that could offer something to a device of this model right now.</summary>
    public IReadOnlyList<RolloutCandidate> ActiveCandidatesFor(string model) =>
        _activeByModel.TryGetValue(model, out var list) ? list : NoCandidates;

    /// <summary>Every rollout of the model, paused and halted ones included (for explanations).</summary>
    public IReadOnlyList<RolloutCandidate> AllCandidatesFor(string model) =>
        _allByModel.TryGetValue(model, out var list) ? list : NoCandidates;

    public CatalogRollout RolloutOf(RolloutCandidate candidate) => _byCandidate[candidate];

    public CatalogRollout? RolloutWithId(long id) => _byId.GetValueOrDefault(id);

    public CatalogRelease? Release(string model, FirmwareVersion version) => _releases.GetValueOrDefault((model, version));

    /// <summary>The device's block, or null when it may be served.</summary>
    public DeviceBlock? BlockOf(string deviceId) => _blocks.GetValueOrDefault(deviceId);

    public IReadOnlyList<CatalogRelease> ReleasesWithVersion(FirmwareVersion version) =>
        _releasesByVersion.TryGetValue(version, out var list) ? list : [];
}

/// <summary>The cached catalog. Reads never touch the database while the cache is current;
/// <see cref="Invalidate"/> makes this instance reload at once after an admin change, and other
/// replicas notice within seconds.</summary>
public interface ICatalog
{
    ValueTask<CatalogSnapshot> CurrentAsync(CancellationToken cancellationToken);

    void Invalidate();
}

using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Infrastructure.Caching;

public sealed class CatalogOptions
{
    /// <summary>How often each replica asks whether rollouts or releases changed elsewhere.</summary>
    public double RefreshSeconds { get; set; } = 2;
}

/// <summary>The catalog kept in memory. A request reads the current snapshot without any I/O; the
/// snapshot is replaced when this instance changes something (<see cref="Invalidate"/>) or when the
/// database's catalog generation moves (another replica changed something).</summary>
/// <remarks>Every invalidation bumps a counter, and a snapshot remembers the counter it was read under.
/// A snapshot is served only while no invalidation came after the read began, so once an admin write
/// has returned, every later check sees it — also one that arrives while an older reload is in flight.</remarks>
public sealed class CachedCatalog : ICatalog
{
    private readonly Func<CancellationToken, Task<CatalogSnapshot>> _read;
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile Loaded? _loaded;
    private long _invalidations;

    public CachedCatalog(CatalogReader reader)
        : this(reader.ReadAsync)
    {
    }

    internal CachedCatalog(Func<CancellationToken, Task<CatalogSnapshot>> read) => _read = read;

    public CatalogSnapshot? Current => _loaded?.Snapshot;

    public ValueTask<CatalogSnapshot> CurrentAsync(CancellationToken cancellationToken)
    {
        var loaded = _loaded;
        return loaded is not null && loaded.Under == Interlocked.Read(ref _invalidations)
            ? ValueTask.FromResult(loaded.Snapshot)
            : new ValueTask<CatalogSnapshot>(ReloadAsync(cancellationToken));
    }

    public void Invalidate() => Interlocked.Increment(ref _invalidations);

    public async Task<CatalogSnapshot> ReloadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            var under = Interlocked.Read(ref _invalidations);
            if (_loaded is { } loaded && loaded.Under == under)
            {
                return loaded.Snapshot; // another caller reloaded while this one waited
            }

            // read after taking the counter: a write that invalidated before this point is in the read
            var fresh = await _read(cancellationToken);
            _loaded = new Loaded(fresh, under);
            return fresh;
        }
        finally
        {
            _loading.Release();
        }
    }

    private sealed record Loaded(CatalogSnapshot Snapshot, long Under);
}

/// <summary>Polls the catalog generation (one tiny query) and marks the cache stale when it moved.</summary>
public sealed class CatalogRefresher(CachedCatalog catalog, CatalogReader reader, CatalogOptions options, ILogger<CatalogRefresher> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.RefreshSeconds));
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var generation = await reader.ReadGenerationAsync(stoppingToken);
                if (catalog.Current is { } current && current.Generation != generation)
                {
                    catalog.Invalidate();
                    await catalog.ReloadAsync(stoppingToken);
                }

                if (failing)
                {
                    logger.LogInformation("The catalog refresher reaches the database again");
                    failing = false;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!failing)
                {
                    logger.LogWarning(e, "The catalog refresher cannot reach the database; devices keep the last known rollouts");
                    failing = true;
                }
            }
        }
    }
}

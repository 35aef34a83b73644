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
public sealed class CachedCatalog(CatalogReader reader) : ICatalog
{
    private readonly SemaphoreSlim _loading = new(1, 1);
    private volatile CatalogSnapshot? _current;
    private volatile bool _stale = true;

    public CatalogSnapshot? Current => _current;

    public ValueTask<CatalogSnapshot> CurrentAsync(CancellationToken cancellationToken)
    {
        var current = _current;
        return current is not null && !_stale ? ValueTask.FromResult(current) : new ValueTask<CatalogSnapshot>(ReloadAsync(cancellationToken));
    }

    public void Invalidate() => _stale = true;

    public async Task<CatalogSnapshot> ReloadAsync(CancellationToken cancellationToken)
    {
        await _loading.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } current && !_stale)
            {
                return current; // another caller reloaded while this one waited
            }

            _stale = false;
            try
            {
                var fresh = await reader.ReadAsync(cancellationToken);
                _current = fresh;
                return fresh;
            }
            catch
            {
                _stale = true;
                throw;
            }
        }
        finally
        {
            _loading.Release();
        }
    }
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

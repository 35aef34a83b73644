using Microsoft.Extensions.Logging;
using Npgsql;
using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Caching;

public sealed class BinaryCacheOptions
{
    /// <summary>Image bytes kept in memory between downloads (default 256 MiB), least recently used out first.</summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;
}

/// <summary>Images in memory, one copy each however many downloads read it at once. An image is loaded
/// once (concurrent misses share the read, verified by the store), then every download leases that same
/// array. Between downloads up to <see cref="BinaryCacheOptions.MaxBytes"/> of images stay (LRU); an image
/// that is leased stays too, even when the budget pushed it out or it is larger than the budget, and is
/// dropped when its last lease ends — so memory is the budget plus the images being downloaded, once each,
/// never a copy per download.</summary>
public sealed partial class ImageCache(
    NpgsqlDataSource dataSource, Artifacts.ArtifactStores stores, BinaryCacheOptions options, ILogger<ImageCache> logger) : IImageSource
{
    private readonly ConcurrentLoads _loading = new();
    private readonly Dictionary<string, Entry> _live = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new();
    private readonly Lock _gate = new();
    private long _cachedBytes;

    /// <summary>Images in memory now (cached or leased); for tests and the benchmark's reasoning.</summary>
    public int ImagesInMemory
    {
        get
        {
            lock (_gate)
            {
                return _live.Count;
            }
        }
    }

    public async ValueTask<ImageLease?> AcquireAsync(string sha256, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_live.TryGetValue(sha256, out var live))
            {
                return LeaseLocked(live);
            }
        }

        var loaded = await _loading.RunAsync(sha256, LoadAsync, cancellationToken);
        if (loaded is null)
        {
            return null;
        }

        lock (_gate)
        {
            // the loaded entry, unless it was dropped meanwhile (no lease, pushed out) and loaded again
            if (!_live.TryGetValue(sha256, out var entry))
            {
                _live[sha256] = entry = loaded;
            }

            return LeaseLocked(entry);
        }
    }

    /// <summary>Makes a freshly loaded image the one copy in memory, before any waiting caller sees the
    /// load finish, so a caller arriving just after it finds the image rather than loading it again.</summary>
    private Entry Adopt(string sha256, byte[] content)
    {
        lock (_gate)
        {
            if (_live.TryGetValue(sha256, out var existing))
            {
                return existing;
            }

            var entry = new Entry(sha256, content);
            _live[sha256] = entry;
            if (content.LongLength <= options.MaxBytes)
            {
                while (_cachedBytes + content.LongLength > options.MaxBytes && _recency.Last is { } oldest)
                {
                    UncacheLocked(oldest.Value);
                }

                entry.Node = _recency.AddFirst(entry);
                _cachedBytes += content.LongLength;
            }

            return entry;
        }
    }

    private ImageLease LeaseLocked(Entry entry)
    {
        entry.Leases++;
        if (entry.Node is { } node)
        {
            _recency.Remove(node);
            _recency.AddFirst(node);
        }

        return new ImageLease(entry.Content, () => Release(entry));
    }

    private void Release(Entry entry)
    {
        lock (_gate)
        {
            entry.Leases--;
            if (entry.Leases == 0 && entry.Node is null)
            {
                _live.Remove(entry.Sha);
            }
        }
    }

    private void UncacheLocked(Entry entry)
    {
        _recency.Remove(entry.Node!);
        entry.Node = null;
        _cachedBytes -= entry.Content.LongLength;
        if (entry.Leases == 0)
        {
            _live.Remove(entry.Sha);
        }
    }

    private async Task<Entry?> LoadAsync(string sha256)
    {
        // twice at most: artifacts-move may switch the image's store between reading its row and its bytes
        for (var attempt = 1; attempt <= 2; attempt++)
        {
            await using var command = dataSource.CreateCommand("select store from firmware_binaries where sha256 = $1");
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
            if (await command.ExecuteScalarAsync() is not string name || Artifacts.ArtifactOptions.Parse(name) is not { } kind)
            {
                return null;
            }

            if (stores.For(kind) is not { } store)
            {
                LogStoreMissing(logger, sha256, name);
                return null;
            }

            if (await store.ReadAsync(sha256, CancellationToken.None) is { } content)
            {
                return Adopt(sha256, content);
            }
        }

        return null;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Image {Sha256} is stored in the {Store} store, which this service has not configured (Ota:Artifacts:Directory); it cannot be served.")]
    private static partial void LogStoreMissing(ILogger logger, string sha256, string store);

    private sealed class Entry(string sha, byte[] content)
    {
        public string Sha { get; } = sha;

        public byte[] Content { get; } = content;

        public int Leases { get; set; }

        public LinkedListNode<Entry>? Node { get; set; }
    }

    /// <summary>One load per key at a time; callers that arrive while it runs share its outcome. A caller
    /// that gives up stops waiting, not the load; the key is free again as soon as the load ends.</summary>
    private sealed class ConcurrentLoads
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Task<Entry?>>> _running = new(StringComparer.Ordinal);

        public Task<Entry?> RunAsync(string key, Func<string, Task<Entry?>> load, CancellationToken cancellationToken)
        {
            var lazy = _running.GetOrAdd(key, k => new Lazy<Task<Entry?>>(() => load(k)));
            var task = lazy.Value;
            _ = task.ContinueWith(
                _ => _running.TryRemove(new KeyValuePair<string, Lazy<Task<Entry?>>>(key, lazy)),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return task.WaitAsync(cancellationToken);
        }
    }
}

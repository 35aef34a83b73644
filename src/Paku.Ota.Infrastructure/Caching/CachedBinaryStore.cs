using System.Collections.Concurrent;
using Npgsql;
using Paku.Ota.Application.Firmware.GetFirmwareBinary;

namespace Paku.Ota.Infrastructure.Caching;

public sealed class BinaryCacheOptions
{
    /// <summary>Upper bound of image bytes kept in memory (default 256 MiB).</summary>
    public long MaxBytes { get; set; } = 256L * 1024 * 1024;
}

/// <summary>Firmware images by SHA-256, kept in memory up to a byte budget (least recently used out
/// first). Images are immutable, so a cached copy is never stale; concurrent misses for the same
/// image share one database read.</summary>
public sealed class CachedBinaryStore(NpgsqlDataSource dataSource, BinaryCacheOptions options) : IBinaryStore
{
    private readonly ConcurrentDictionary<string, Lazy<Task<byte[]?>>> _loading = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkedListNode<(string Sha, byte[] Content)>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<(string Sha, byte[] Content)> _recency = new();
    private readonly Lock _gate = new();
    private long _bytes;

    public async ValueTask<ReadOnlyMemory<byte>?> GetAsync(string sha256, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(sha256, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                return node.Value.Content;
            }
        }

        var load = _loading.GetOrAdd(sha256, sha => new Lazy<Task<byte[]?>>(() => LoadAsync(sha)));
        byte[]? content;
        try
        {
            content = await load.Value.WaitAsync(cancellationToken);
        }
        finally
        {
            _loading.TryRemove(new KeyValuePair<string, Lazy<Task<byte[]?>>>(sha256, load));
        }

        if (content is not null)
        {
            Remember(sha256, content);
        }

        return content;
    }

    private async Task<byte[]?> LoadAsync(string sha256)
    {
        await using var command = dataSource.CreateCommand("select content from firmware_binaries where sha256 = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
        return await command.ExecuteScalarAsync() as byte[];
    }

    private void Remember(string sha256, byte[] content)
    {
        if (content.LongLength > options.MaxBytes)
        {
            return;
        }

        lock (_gate)
        {
            if (_entries.ContainsKey(sha256))
            {
                return;
            }

            while (_bytes + content.LongLength > options.MaxBytes && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _entries.Remove(oldest.Value.Sha);
                _bytes -= oldest.Value.Content.LongLength;
            }

            _entries[sha256] = _recency.AddFirst((sha256, content));
            _bytes += content.LongLength;
        }
    }
}

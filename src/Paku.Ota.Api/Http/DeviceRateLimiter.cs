using System.Collections.Concurrent;

namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:RateLimit</c>: requests a device may make per window on check and status.</summary>
public sealed class RateLimitOptions
{
    public int DeviceRequestsPerWindow { get; set; } = 60;

    public int WindowSeconds { get; set; } = 60;
}

/// <summary>A fixed-window counter per device. Entries are keyed by a 64-bit hash of the id (no
/// string kept), 16 bytes of state each, and swept once their window is over, so a fleet of a
/// million devices costs tens of megabytes at most.</summary>
public sealed class DeviceRateLimiter(RateLimitOptions options, TimeProvider time)
{
    private readonly ConcurrentDictionary<ulong, Window> _windows = new();
    private long _nextSweep;

    /// <summary>Counts one request; returns 0 when allowed, else the seconds until the device may retry.</summary>
    public int Hit(string deviceId)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var windowStart = now - (now % options.WindowSeconds);
        Sweep(now, windowStart);

        var key = Fnv1a64(deviceId);
        var window = _windows.AddOrUpdate(key,
            static (_, start) => new Window(start, 1),
            static (_, current, start) => current.Start == start ? current with { Count = current.Count + 1 } : new Window(start, 1),
            windowStart);
        return window.Count <= options.DeviceRequestsPerWindow ? 0 : (int)Math.Max(1, windowStart + options.WindowSeconds - now);
    }

    private void Sweep(long now, long windowStart)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + options.WindowSeconds, due) != due)
        {
            return;
        }

        foreach (var (key, window) in _windows)
        {
            if (window.Start < windowStart)
            {
                _windows.TryRemove(new KeyValuePair<ulong, Window>(key, window));
            }
        }
    }

    private static ulong Fnv1a64(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 1099511628211UL;
        }

        return hash;
    }

    private readonly record struct Window(long Start, int Count);
}

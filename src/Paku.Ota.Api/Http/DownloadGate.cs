namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:Downloads</c>: how many images may stream at once, and what to tell the rest.</summary>
public sealed class DownloadOptions
{
    public int MaxConcurrent { get; set; } = 64;

    public int RetryAfterSeconds { get; set; } = 30;
}

/// <summary>Caps concurrent downloads so a large rollout cannot saturate the uplink or the database;
/// past the cap devices get 503 with Retry-After and come back later.</summary>
public sealed class DownloadGate(DownloadOptions options)
{
    private int _active;

    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _active) <= options.MaxConcurrent)
        {
            return true;
        }

        Interlocked.Decrement(ref _active);
        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _active);

    /// <summary>Holds the slot until the response has been written, not just until the handler returned.</summary>
    public IResult Hold(IResult inner) => new HeldResult(inner, this);

    private sealed class HeldResult(IResult inner, DownloadGate gate) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            try
            {
                await inner.ExecuteAsync(httpContext);
            }
            finally
            {
                gate.Exit();
            }
        }
    }
}

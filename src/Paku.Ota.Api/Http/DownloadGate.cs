namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:Downloads</c>: how many images may stream at once, in all and per device, how long a
/// reader may stall, and what to tell those turned away.</summary>
public sealed class DownloadOptions
{
    public int MaxConcurrent { get; set; } = 64;

    /// <summary>Downloads one device may have in flight; a device resumes one image, so two is plenty.</summary>
    public int MaxPerDevice { get; set; } = 2;

    /// <summary>A response whose reader takes no data for this long is cut and its slot freed.</summary>
    public int StallTimeoutSeconds { get; set; } = 30;

    public int RetryAfterSeconds { get; set; } = 30;
}

/// <summary>Caps concurrent downloads so a large rollout cannot saturate the uplink, and so no one device
/// can hold the slots of the others: each device may have <see cref="DownloadOptions.MaxPerDevice"/> in
/// flight, and a response whose reader stops reading is cut after
/// <see cref="DownloadOptions.StallTimeoutSeconds"/>, which frees its slot. Past a cap a device gets
/// 429 (its own limit) or 503 (the service's) with Retry-After and comes back later.</summary>
public sealed class DownloadGate(DownloadOptions options, ILogger<DownloadGate> logger)
{
    /// <summary>The size of the writes a stalled reader must take within the stall timeout.</summary>
    public const int ChunkBytes = 64 * 1024;

    private readonly Dictionary<string, int> _perDevice = new(StringComparer.Ordinal);
    private int _active;

    public enum Refusal
    {
        None,
        DeviceBusy,
        ServiceBusy,
    }

    public int Active => Volatile.Read(ref _active);

    /// <summary>Takes a slot for <paramref name="device"/> (its id, or what stands for it), or says which cap refused it.</summary>
    public Refusal TryEnter(string device)
    {
        lock (_perDevice)
        {
            var held = _perDevice.GetValueOrDefault(device);
            if (held >= options.MaxPerDevice)
            {
                return Refusal.DeviceBusy;
            }

            if (_active >= options.MaxConcurrent)
            {
                return Refusal.ServiceBusy;
            }

            _perDevice[device] = held + 1;
            _active++;
            return Refusal.None;
        }
    }

    public void Exit(string device)
    {
        lock (_perDevice)
        {
            _active--;
            if (_perDevice.GetValueOrDefault(device) <= 1)
            {
                _perDevice.Remove(device);
            }
            else
            {
                _perDevice[device]--;
            }
        }
    }

    /// <summary>Holds the slot, and <paramref name="resources"/> (the image lease), until the response has been
    /// written, not just until the handler returned, and cuts the response when its reader stalls.</summary>
    public IResult Hold(IResult inner, string device, IDisposable? resources = null) =>
        new HeldResult(inner, this, device, TimeSpan.FromSeconds(Math.Max(1, options.StallTimeoutSeconds)), logger, resources);

    private sealed class HeldResult(IResult inner, DownloadGate gate, string device, TimeSpan timeout, ILogger logger, IDisposable? resources) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var body = httpContext.Response.Body;
            await using var guarded = new StallGuardStream(body, timeout, () =>
            {
                logger.LogWarning("Download by {Device} cut: its reader took nothing for {Seconds} s", device, timeout.TotalSeconds);
                httpContext.Abort();
            });
            httpContext.Response.Body = guarded;
            try
            {
                await inner.ExecuteAsync(httpContext);
            }
            finally
            {
                httpContext.Response.Body = body;
                resources?.Dispose();
                gate.Exit(device);
            }
        }
    }

    /// <summary>Passes writes on in chunks of <see cref="ChunkBytes"/>, each of which must be taken within
    /// the timeout; so a response holds at most a chunk plus the server's own output buffer, and a reader
    /// that stops reading is cut instead of holding its slot for ever.</summary>
    private sealed class StallGuardStream(Stream inner, TimeSpan timeout, Action onStall) : Stream
    {
        private readonly CancellationTokenSource _stall = new();

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var offset = 0; offset < buffer.Length; offset += ChunkBytes)
            {
                var chunk = buffer.Slice(offset, Math.Min(ChunkBytes, buffer.Length - offset));
                await GuardedAsync(token => inner.WriteAsync(chunk, token), cancellationToken);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override Task FlushAsync(CancellationToken cancellationToken) =>
            GuardedAsync(token => new ValueTask(inner.FlushAsync(token)), cancellationToken);

        public override void Flush() => inner.Flush();

        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override ValueTask DisposeAsync()
        {
            _stall.Dispose();
            return ValueTask.CompletedTask; // the response body belongs to the server
        }

        private async Task GuardedAsync(Func<CancellationToken, ValueTask> write, CancellationToken cancellationToken)
        {
            if (!_stall.TryReset())
            {
                throw new OperationCanceledException("The download was cut: its reader stalled.");
            }

            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stall.Token);
            _stall.CancelAfter(timeout);
            try
            {
                await write(linked.Token);
            }
            catch (OperationCanceledException) when (_stall.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                onStall();
                throw;
            }
        }
    }
}

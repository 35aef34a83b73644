using System.Globalization;
using System.Threading.RateLimiting;

namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:Admission</c>: device checks and status reports are admitted by how long they would wait,
/// not by a small fixed cap. A request runs at once while fewer than <see cref="MaxConcurrent"/> are in
/// progress; otherwise it waits (oldest first) in a queue of at most <see cref="QueueLimit"/>, and is shed with
/// 503 and Retry-After when the queue is full or when it has waited <see cref="MaxQueueMilliseconds"/> without
/// a turn. Below capacity nothing waits long, so nothing is shed; past it, only the excess is.</summary>
public sealed class AdmissionOptions
{
    /// <summary>Requests in progress at once; 0 turns admission off. A generous ceiling, not the tuning knob: a
    /// check spends most of its time waiting on a shared (batched) commit, so the service's capacity is reached
    /// at a few hundred concurrent checks, and a small cap would shed well below it (bench/RESULTS.md,
    /// "Overload"). It bounds the memory and connections held by admitted requests.</summary>
    public int MaxConcurrent { get; set; } = 512;

    /// <summary>Requests that may wait for a turn (oldest first); past it a request is shed at once.</summary>
    public int QueueLimit { get; set; } = 2048;

    /// <summary>The longest a request waits for a turn before it is shed: the admission target. Waiting this
    /// long means the service is past its capacity, and the request would only add to the latency of the rest.</summary>
    public int MaxQueueMilliseconds { get; set; } = 200;

    /// <summary>A shed call is told to retry after this many seconds to twice as many, chosen at random, so that the
    /// devices shed in one burst do not all come back in the next.</summary>
    public int RetryAfterSeconds { get; set; } = 5;
}

/// <summary>Admission control for the short device calls (check and status report), by queueing time: a
/// generous concurrency ceiling with a bounded queue whose entries are shed once they have waited longer than
/// <see cref="AdmissionOptions.MaxQueueMilliseconds"/>. Under several times the capacity the admitted requests
/// keep their latency (at most the queue target plus their own work) and the rest are turned away cheaply,
/// before the handler runs. Downloads have their own gate (<see cref="DownloadGate"/>); admin endpoints, the
/// console and /health are outside admission, so they stay reachable while devices overload the service.</summary>
public static class DeviceAdmission
{
    public const string Policy = "device-admission";

    public static IServiceCollection AddDeviceAdmission(this IServiceCollection services, AdmissionOptions options)
    {
        if (options.MaxConcurrent < 0 || options.QueueLimit < 0 || options.MaxQueueMilliseconds < 1 || options.RetryAfterSeconds < 1)
        {
            throw new InvalidOperationException(
                "Ota:Admission needs MaxConcurrent >= 0 (0 turns admission off), QueueLimit >= 0, MaxQueueMilliseconds >= 1 " +
                "and RetryAfterSeconds >= 1.");
        }

        services.AddSingleton(options);
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, _ => options.MaxConcurrent == 0
                ? RateLimitPartition.GetNoLimiter("devices")
                : RateLimitPartition.Get("devices", _ => new QueueDeadlineLimiter(options)));
            limiter.OnRejected = (rejected, _) =>
            {
                var retryAfter = Random.Shared.Next(options.RetryAfterSeconds, (2 * options.RetryAfterSeconds) + 1);
                var why = rejected.Lease.TryGetMetadata(QueueDeadlineLimiter.Reason, out var reason) ? reason : "the queue is full";
                return new ValueTask(Problems.WriteAsync(rejected.HttpContext, StatusCodes.Status503ServiceUnavailable, "Busy",
                    $"The service is at capacity: {why} (Ota:Admission); retry in {retryAfter.ToString(CultureInfo.InvariantCulture)} seconds.",
                    retryAfter));
            };
        });
        return services;
    }

    /// <summary>Puts an endpoint under device admission.</summary>
    public static TBuilder AdmittedAsDeviceCall<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.RequireRateLimiting(Policy);
}

/// <summary>A concurrency limiter whose waiting requests give up after <see cref="AdmissionOptions.MaxQueueMilliseconds"/>:
/// a request that gets no turn in time receives a refused lease (the rate-limiting middleware then sheds it
/// without running the endpoint). A request whose client went away still ends as cancelled, as before.</summary>
internal sealed class QueueDeadlineLimiter : RateLimiter
{
    public static readonly MetadataName<string> Reason = MetadataName.Create<string>("PAKU_ADMISSION_REASON");

    private readonly ConcurrencyLimiter _inner;
    private readonly AdmissionOptions _options;

    public QueueDeadlineLimiter(AdmissionOptions options)
    {
        _options = options;
        _inner = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = options.MaxConcurrent,
            QueueLimit = options.QueueLimit,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
    }

    public override TimeSpan? IdleDuration => _inner.IdleDuration;

    public override RateLimiterStatistics? GetStatistics() => _inner.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => _inner.AttemptAcquire(permitCount);

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var now = _inner.AttemptAcquire(permitCount); // the common case below capacity: no timer, no queue
        if (now.IsAcquired)
        {
            return now;
        }

        now.Dispose();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.MaxQueueMilliseconds);
        try
        {
            var lease = await _inner.AcquireAsync(permitCount, deadline.Token);
            return lease.IsAcquired
                ? lease
                : Refused(lease, $"{_options.MaxConcurrent} device requests in progress and {_options.QueueLimit} waiting " +
                    "(Ota:Admission:MaxConcurrent, Ota:Admission:QueueLimit)");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Refused(null, $"no turn within {_options.MaxQueueMilliseconds.ToString(CultureInfo.InvariantCulture)} ms " +
                "(Ota:Admission:MaxQueueMilliseconds)");
        }
    }

    private static RateLimitLease Refused(RateLimitLease? inner, string reason)
    {
        inner?.Dispose();
        return new RefusedLease(reason);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore() => _inner.DisposeAsync();

    private sealed class RefusedLease(string reason) : RateLimitLease
    {
        public override bool IsAcquired => false;

        public override IEnumerable<string> MetadataNames => [Reason.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            metadata = metadataName == Reason.Name ? reason : null;
            return metadata is not null;
        }
    }
}

using System.Globalization;
using System.Threading.RateLimiting;

namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:Admission</c>: how many device checks and status reports the service works on at
/// once, and how many more may wait for a turn. Past both, a request is shed at once with 503 and
/// Retry-After instead of queueing without bound.</summary>
public sealed class AdmissionOptions
{
    /// <summary>Requests in progress at once; 0 turns admission off. 64 is the concurrency at which the
    /// check reached its peak goodput on the benchmark machine (bench/RESULTS.md, "Overload"): more in
    /// flight adds latency, not throughput, because concurrent checks already share one commit.</summary>
    public int MaxConcurrent { get; set; } = 64;

    /// <summary>Requests that may wait for a turn (oldest first); with the check's throughput this bounds
    /// the wait to a few tens of milliseconds.</summary>
    public int QueueLimit { get; set; } = 64;

    /// <summary>A shed call is told to retry after this many seconds to twice as many, chosen at random, so that the
    /// devices shed in one burst do not all come back in the next.</summary>
    public int RetryAfterSeconds { get; set; } = 5;
}

/// <summary>Admission control for the short device calls (check and status report): a concurrency limiter
/// with a bounded queue, so under several times the capacity the admitted requests keep their latency and
/// the rest are turned away cheaply. Downloads have their own gate (<see cref="DownloadGate"/>); admin
/// endpoints, the console and /health are outside admission, so they stay reachable while devices overload
/// the service.</summary>
public static class DeviceAdmission
{
    public const string Policy = "device-admission";

    public static IServiceCollection AddDeviceAdmission(this IServiceCollection services, AdmissionOptions options)
    {
        if (options.MaxConcurrent < 0 || options.QueueLimit < 0 || options.RetryAfterSeconds < 1)
        {
            throw new InvalidOperationException(
                "Ota:Admission needs MaxConcurrent >= 0 (0 turns admission off), QueueLimit >= 0 and RetryAfterSeconds >= 1.");
        }

        services.AddSingleton(options);
        services.AddRateLimiter(limiter =>
        {
            limiter.AddPolicy(Policy, _ => options.MaxConcurrent == 0
                ? RateLimitPartition.GetNoLimiter("devices")
                : RateLimitPartition.GetConcurrencyLimiter("devices", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = options.MaxConcurrent,
                    QueueLimit = options.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));
            limiter.OnRejected = (rejected, _) =>
            {
                var retryAfter = Random.Shared.Next(options.RetryAfterSeconds, (2 * options.RetryAfterSeconds) + 1);
                return new ValueTask(Problems.WriteAsync(rejected.HttpContext, StatusCodes.Status503ServiceUnavailable, "Busy",
                    $"The service is at capacity ({options.MaxConcurrent} device requests in progress and {options.QueueLimit} waiting, " +
                    $"Ota:Admission); retry in {retryAfter.ToString(CultureInfo.InvariantCulture)} seconds.",
                    retryAfter));
            };
        });
        return services;
    }

    /// <summary>Puts an endpoint under device admission.</summary>
    public static TBuilder AdmittedAsDeviceCall<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.RequireRateLimiting(Policy);
}

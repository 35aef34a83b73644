using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:Admission</c>: device checks and status reports are admitted by how long they would wait
/// (controlled delay), not by a small fixed cap. A call runs at once while fewer than <see cref="MaxConcurrent"/>
/// are in progress; otherwise it waits in a queue of at most <see cref="QueueLimit"/>. A burst that the service
/// works off may wait up to <see cref="MaxQueueMilliseconds"/>; once the queue has not been empty for that long,
/// the service is past its capacity, the newest waiting call is served first and a call waits at most
/// <see cref="OverloadQueueMilliseconds"/>. Shed calls get 503 and Retry-After.</summary>
public sealed class AdmissionOptions
{
    /// <summary>Calls in progress at once; 0 turns admission off. A generous ceiling, not the tuning knob: a
    /// check spends most of its time waiting on a shared (batched) commit, so the service's capacity is reached
    /// at a few hundred concurrent checks, and a small cap would shed well below it (bench/RESULTS.md,
    /// "Overload"). It bounds the memory and connections held by admitted calls.</summary>
    public int MaxConcurrent { get; set; } = 512;

    /// <summary>Calls that may wait for a turn; past it a call is shed at once.</summary>
    public int QueueLimit { get; set; } = 2048;

    /// <summary>The longest a call waits for a turn while the queue still empties now and then (a burst the
    /// service works off), and the time the queue must stand without emptying before the service counts itself
    /// overloaded.</summary>
    public int MaxQueueMilliseconds { get; set; } = 200;

    /// <summary>The longest a call waits for a turn while overloaded. Waiting longer would only add latency to
    /// the calls that are served, since past capacity the queue does not shrink by itself.</summary>
    public int OverloadQueueMilliseconds { get; set; } = 10;

    /// <summary>A shed call is told to retry after this many seconds to twice as many, chosen at random, so that the
    /// devices shed in one burst do not all come back in the next.</summary>
    public int RetryAfterSeconds { get; set; } = 5;

    public void Validate()
    {
        if (MaxConcurrent < 0 || QueueLimit < 0 || MaxQueueMilliseconds < 1 || OverloadQueueMilliseconds < 1
            || OverloadQueueMilliseconds > MaxQueueMilliseconds || RetryAfterSeconds is < 1 or > 3600)
        {
            throw new InvalidOperationException(
                "Ota:Admission needs MaxConcurrent >= 0 (0 turns admission off), QueueLimit >= 0, " +
                "1 <= OverloadQueueMilliseconds <= MaxQueueMilliseconds, and 1 <= RetryAfterSeconds <= 3600.");
        }
    }
}

/// <summary>How an arrival or a wait ended.</summary>
public enum AdmissionVerdict
{
    Admitted,

    /// <summary>Every turn taken and the queue full: shed on arrival.</summary>
    QueueFull,

    /// <summary>The queue had not emptied for <see cref="AdmissionOptions.MaxQueueMilliseconds"/> (overload), and the call
    /// got no turn within <see cref="AdmissionOptions.OverloadQueueMilliseconds"/>.</summary>
    Waited,

    /// <summary>The caller gave up (its client went away) before a turn came.</summary>
    Abandoned,

    /// <summary>On arrival: no turn free, so the call waits; its waiter completes with one of the verdicts above.</summary>
    Queued,
}

/// <summary>The admission queue's decisions, with time as a parameter (milliseconds of a monotonic clock) so
/// they are tested without waiting; <see cref="DeviceAdmissionMiddleware"/> drives it with the real clock.
/// It follows the controlled-delay queue of "Fail at Scale" (Maurer, ACM Queue 13(8), 2015): while the queue
/// empties now and then, a call may wait up to the burst limit, oldest first; once it has stood for longer than
/// that, a call waits at most the overload limit and the newest waiting call is served first (its client is
/// the least likely to have given up), so the calls that are served keep a short wait and the excess is shed
/// quickly instead of queueing without bound.</summary>
public sealed class AdmissionQueue
{
    private readonly object _lock = new();
    private readonly int _maxConcurrent;
    private readonly long _burstWait;
    private readonly long _overloadWait;
    private readonly Waiter?[] _ring;
    private int _head;
    private int _count;
    private int _inProgress;
    private long _lastEmpty;

    public AdmissionQueue(int maxConcurrent, int queueLimit, long burstWaitMilliseconds, long overloadWaitMilliseconds)
    {
        _maxConcurrent = maxConcurrent;
        _burstWait = burstWaitMilliseconds;
        _overloadWait = overloadWaitMilliseconds;
        _ring = new Waiter?[queueLimit];
    }

    public int InProgress
    {
        get { lock (_lock) { return _inProgress; } }
    }

    /// <summary>Waiting calls (including ones abandoned since, until their place is passed).</summary>
    public int Queued
    {
        get { lock (_lock) { return _count; } }
    }

    /// <summary>Overloaded: the queue has not been empty for longer than the burst limit.</summary>
    public bool IsOverloaded(long now)
    {
        lock (_lock)
        {
            return Overloaded(now);
        }
    }

    /// <summary>A call arrives: admitted at once, shed at once (the queue is full), or queued: then
    /// <paramref name="waiter"/> completes with its verdict.</summary>
    public AdmissionVerdict Arrive(long now, out Waiter? waiter)
    {
        waiter = null;
        lock (_lock)
        {
            ShedExpired(now);
            if (_count == 0 && _inProgress < _maxConcurrent)
            {
                _inProgress++;
                _lastEmpty = now;
                return AdmissionVerdict.Admitted;
            }

            if (_count == _ring.Length)
            {
                return AdmissionVerdict.QueueFull;
            }

            if (_count == 0)
            {
                _lastEmpty = now; // empty until this moment
            }

            waiter = new Waiter(now);
            _ring[(_head + _count) % _ring.Length] = waiter;
            _count++;
            return AdmissionVerdict.Queued;
        }
    }

    /// <summary>An admitted call finished: its turn goes to a waiting call (the oldest while the queue empties
    /// now and then, the newest when overloaded); calls that waited past the limit are shed on the way.</summary>
    public void Leave(long now)
    {
        lock (_lock)
        {
            ShedExpired(now);
            var lifo = Overloaded(now);
            while (_count > 0)
            {
                var next = lifo ? PopNewest() : PopOldest();
                if (next.TryComplete(AdmissionVerdict.Admitted))
                {
                    NoteIfEmpty(now);
                    return; // the turn passes on: in progress stays the same
                }
            }

            _inProgress--;
            _lastEmpty = now;
        }
    }

    /// <summary>Sheds the calls that have waited past the limit (the clock's tick, for when no call arrives or
    /// leaves). Returns whether calls are still waiting.</summary>
    public bool Expire(long now)
    {
        lock (_lock)
        {
            ShedExpired(now);
            return _count > 0;
        }
    }

    private bool Overloaded(long now) => _count > 0 && now - _lastEmpty > _burstWait;

    private void ShedExpired(long now)
    {
        if (_count == 0)
        {
            return;
        }

        // a call that has waited past the burst limit has seen the queue stand that long, so outside overload
        // nothing waits past the limit: only the places of abandoned calls are passed
        var limit = Overloaded(now) ? _overloadWait : _burstWait;
        while (_count > 0)
        {
            var oldest = _ring[_head]!;
            if (!oldest.IsDone && now - oldest.Since <= limit)
            {
                break;
            }

            PopOldest().TryComplete(AdmissionVerdict.Waited);
        }

        NoteIfEmpty(now);
    }

    private void NoteIfEmpty(long now)
    {
        if (_count == 0)
        {
            _lastEmpty = now;
        }
    }

    private Waiter PopOldest()
    {
        var waiter = _ring[_head]!;
        _ring[_head] = null;
        _head = (_head + 1) % _ring.Length;
        _count--;
        return waiter;
    }

    private Waiter PopNewest()
    {
        var slot = (_head + _count - 1) % _ring.Length;
        var waiter = _ring[slot]!;
        _ring[slot] = null;
        _count--;
        return waiter;
    }

    /// <summary>One waiting call; completes once, with its turn, its shedding or its abandonment.</summary>
    public sealed class Waiter(long since)
    {
        private readonly TaskCompletionSource<AdmissionVerdict> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Since { get; } = since;

        public Task<AdmissionVerdict> Verdict => _done.Task;

        public bool IsDone => _done.Task.IsCompleted;

        /// <summary>The caller gave up: the waiter completes as abandoned, unless its turn or its shedding came
        /// first. A turn given to it later is passed on (<see cref="TryComplete"/> then fails).</summary>
        public void Abandon() => TryComplete(AdmissionVerdict.Abandoned);

        internal bool TryComplete(AdmissionVerdict verdict) => _done.TrySetResult(verdict);
    }
}

/// <summary>Admission control for the short device calls (check and status report), the first thing the
/// pipeline does for them after routing: an admitted call goes on, a shed one is answered 503 + Retry-After with
/// a problem+json written from bytes prepared at start, before authentication, the handler or any
/// allocation-heavy step runs, so shedding the excess costs a small part of serving it. Downloads have their
/// own gate (<see cref="DownloadGate"/>); admin endpoints, the console and /health are outside admission, so
/// they stay reachable while devices overload the service.</summary>
public sealed class DeviceAdmissionMiddleware(RequestDelegate next, DeviceAdmissionGate gate)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (!gate.Enabled || context.GetEndpoint()?.Metadata.GetMetadata<DeviceAdmission.Admitted>() is null)
        {
            await next(context);
            return;
        }

        var verdict = await gate.EnterAsync(context.RequestAborted);
        switch (verdict)
        {
            case AdmissionVerdict.Admitted:
                try
                {
                    await next(context);
                }
                finally
                {
                    gate.Leave();
                }

                return;
            case AdmissionVerdict.Abandoned:
                return;
            default:
                await gate.ShedAsync(context, verdict);
                return;
        }
    }
}

/// <summary>The service's admission queue on the real clock: the clock that ends waits on time, the shed
/// answers prepared at start, and the metrics.</summary>
public sealed class DeviceAdmissionGate : IDisposable
{
    private readonly AdmissionOptions _options;
    private readonly AdmissionQueue? _queue;
    private readonly Timer? _clock;
    private readonly Counter<long> _calls;
    private readonly Dictionary<AdmissionVerdict, ShedAnswer[]> _answers = [];
    private readonly KeyValuePair<string, object?>[] _resultTags;
    private int _clockRunning;

    public DeviceAdmissionGate(AdmissionOptions options, IMeterFactory meters)
    {
        _options = options;
        var meter = meters.Create(OtaMetrics.MeterName);
        _calls = meter.CreateCounter<long>("ota.admission.calls",
            description: "Device checks and status reports by admission result (admitted, shed_queue_full, shed_waited, abandoned).");
        _resultTags = Enum.GetValues<AdmissionVerdict>().Select(v => new KeyValuePair<string, object?>("result", ResultLabel(v))).ToArray();
        if (options.MaxConcurrent == 0)
        {
            return;
        }

        _queue = new AdmissionQueue(options.MaxConcurrent, options.QueueLimit, options.MaxQueueMilliseconds, options.OverloadQueueMilliseconds);
        meter.CreateObservableGauge("ota.admission.in_progress", () => _queue.InProgress,
            description: "Device checks and status reports admitted and not yet finished.");
        meter.CreateObservableGauge("ota.admission.queued", () => _queue.Queued,
            description: "Device checks and status reports waiting for a turn.");
        _clock = new Timer(_ => Tick(), null, Timeout.Infinite, Timeout.Infinite);
        foreach (var verdict in new[] { AdmissionVerdict.QueueFull, AdmissionVerdict.Waited })
        {
            // one answer for each Retry-After from RetryAfterSeconds to twice that
            _answers[verdict] = Enumerable.Range(options.RetryAfterSeconds, options.RetryAfterSeconds + 1)
                .Select(seconds => new ShedAnswer(seconds.ToString(CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes(ShedBody(verdict, seconds))))
                .ToArray();
        }
    }

    /// <summary>False when Ota:Admission:MaxConcurrent is 0.</summary>
    public bool Enabled => _queue is not null;

    public async ValueTask<AdmissionVerdict> EnterAsync(CancellationToken callerGone)
    {
        var verdict = _queue!.Arrive(Now(), out var waiter);
        if (waiter is not null)
        {
            StartClock();
            using (callerGone.Register(static w => ((AdmissionQueue.Waiter)w!).Abandon(), waiter))
            {
                verdict = await waiter.Verdict;
            }
        }

        _calls.Add(1, _resultTags[(int)verdict]);
        return verdict;
    }

    public void Leave() => _queue!.Leave(Now());

    /// <summary>503 + Retry-After (RetryAfterSeconds to twice that at random, so that devices shed together do not
    /// come back together) and a problem+json that says why.</summary>
    public Task ShedAsync(HttpContext context, AdmissionVerdict verdict)
    {
        var answers = _answers[verdict];
        var (retryAfter, body) = answers[Random.Shared.Next(answers.Length)];
        var response = context.Response;
        response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        response.Headers.RetryAfter = retryAfter;
        response.ContentType = "application/problem+json";
        response.ContentLength = body.Length;
        // no cancellation token: a client that left makes the write a no-op, where a cancelled write would throw
        // past every error handler (admission runs before them)
        return response.Body.WriteAsync(body).AsTask();
    }

    public void Dispose() => _clock?.Dispose();

    private static long Now() => Environment.TickCount64;

    /// <summary>The clock runs while calls wait, so that a wait ends on time even when no call arrives or leaves
    /// (every turn held by calls stuck on the database, say).</summary>
    private void StartClock()
    {
        if (Interlocked.CompareExchange(ref _clockRunning, 1, 0) == 0)
        {
            var period = Math.Max(1, _options.OverloadQueueMilliseconds / 2);
            _clock!.Change(period, period);
        }
    }

    private void Tick()
    {
        if (_queue!.Expire(Now()))
        {
            return;
        }

        _clock!.Change(Timeout.Infinite, Timeout.Infinite);
        Volatile.Write(ref _clockRunning, 0);
        if (_queue.Queued > 0)
        {
            StartClock(); // a call queued between the look and the stop
        }
    }

    private string ShedBody(AdmissionVerdict verdict, int retryAfter)
    {
        var o = _options;
        var why = verdict switch
        {
            AdmissionVerdict.QueueFull => $"{o.MaxConcurrent} device calls in progress and {o.QueueLimit} waiting " +
                "(Ota:Admission:MaxConcurrent, Ota:Admission:QueueLimit)",
            _ => $"the queue has not emptied for {o.MaxQueueMilliseconds} ms (Ota:Admission:MaxQueueMilliseconds) and no turn came " +
                $"within {o.OverloadQueueMilliseconds} ms (Ota:Admission:OverloadQueueMilliseconds)",
        };
        var detail = $"The service is at capacity: {why}; retry in {retryAfter.ToString(CultureInfo.InvariantCulture)} seconds.";
        return System.Text.Json.JsonSerializer.Serialize(
            new ShedProblem("https://tools.ietf.org/html/rfc9110#section-15.6.4", "Busy", StatusCodes.Status503ServiceUnavailable, detail),
            ShedProblemJson.Default.ShedProblem);
    }

    private static string ResultLabel(AdmissionVerdict verdict) => verdict switch
    {
        AdmissionVerdict.Admitted => "admitted",
        AdmissionVerdict.QueueFull => "shed_queue_full",
        AdmissionVerdict.Waited => "shed_waited",
        AdmissionVerdict.Abandoned => "abandoned",
        _ => "queued",
    };
}

internal sealed record ShedAnswer(string RetryAfter, byte[] Body);

internal sealed record ShedProblem(
    [property: System.Text.Json.Serialization.JsonPropertyName("type")] string Type,
    [property: System.Text.Json.Serialization.JsonPropertyName("title")] string Title,
    [property: System.Text.Json.Serialization.JsonPropertyName("status")] int Status,
    [property: System.Text.Json.Serialization.JsonPropertyName("detail")] string Detail);

[System.Text.Json.Serialization.JsonSerializable(typeof(ShedProblem))]
internal sealed partial class ShedProblemJson : System.Text.Json.Serialization.JsonSerializerContext;

/// <summary>Registration of device admission: the options, and the marker that puts an endpoint under it.</summary>
public static class DeviceAdmission
{
    public static IServiceCollection AddDeviceAdmission(this IServiceCollection services, AdmissionOptions options)
    {
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<DeviceAdmissionGate>();
        return services;
    }

    /// <summary>Puts an endpoint under device admission.</summary>
    public static TBuilder AdmittedAsDeviceCall<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new Admitted());

    /// <summary>Endpoint metadata: the endpoint is a device call under admission.</summary>
    public sealed class Admitted;
}

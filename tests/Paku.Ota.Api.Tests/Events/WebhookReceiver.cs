using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Paku.Ota.Api.Tests.Events;

/// <summary>A real HTTP receiver for webhooks: Kestrel on a random loopback port that records every
/// request (body bytes, headers, when) and answers what <see cref="Answer"/> says for the n-th request
/// of an event, after <see cref="Delay"/>. It also records the most requests of one event it ever had
/// in flight at once.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private readonly ConcurrentDictionary<string, int> _seen = new();
    private int _mostInFlightOfOneEvent;
    private int _generation;

    private WebhookReceiver(WebApplication app) => _app = app;

    public sealed record Received(string EventId, byte[] Body, string? Signature, string? Kind, int Attempt, DateTimeOffset At, int AnsweredWith);

    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>The status for the n-th request (1-based) of an event; 200 by default.</summary>
    public Func<string, int, int> Answer { get; set; } = (_, _) => 200;

    public TimeSpan Delay { get; set; } = TimeSpan.Zero;

    public Uri Url { get; private set; } = null!;

    public int MostInFlightOfOneEvent => Volatile.Read(ref _mostInFlightOfOneEvent);

    public IReadOnlyList<Received> Delivered => [.. Requests.Where(r => r.AnsweredWith is >= 200 and < 300)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.MapPost("/hook", receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        receiver.Url = new Uri(new Uri(address), "/hook");
        return receiver;
    }

    /// <summary>Forgets what was received and answers 200 at once again.</summary>
    public void Reset()
    {
        Interlocked.Increment(ref _generation); // a request of an earlier test still being answered is not recorded
        Requests.Clear();
        _seen.Clear();
        Answer = (_, _) => 200;
        Delay = TimeSpan.Zero;
        Volatile.Write(ref _mostInFlightOfOneEvent, 0);
    }

    /// <summary>Waits (generously: the machine is shared) until <paramref name="done"/> holds.</summary>
    public async Task WaitUntilAsync(Func<WebhookReceiver, bool> done, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!done(this))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"within {seconds} s: {what}; received {Requests.Count} requests: " +
                    string.Join(", ", Requests.Select(r => $"{r.EventId}#{r.Attempt}->{r.AnsweredWith}")));
            }

            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext http)
    {
        var generation = Volatile.Read(ref _generation);
        var eventId = http.Request.Headers["Paku-Event-Id"].ToString();
        var now = _inFlight.AddOrUpdate(eventId, 1, (_, n) => n + 1);
        try
        {
            int most;
            do
            {
                most = Volatile.Read(ref _mostInFlightOfOneEvent);
            }
            while (now > most && Interlocked.CompareExchange(ref _mostInFlightOfOneEvent, now, most) != most);

            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            var n = _seen.AddOrUpdate(eventId, 1, (_, c) => c + 1);
            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay);
            }

            var status = Answer(eventId, n);
            if (generation != Volatile.Read(ref _generation))
            {
                http.Response.StatusCode = status;
                return;
            }

            Requests.Enqueue(new Received(
                eventId, body.ToArray(), http.Request.Headers["Paku-Signature"].ToString(), http.Request.Headers["Paku-Event-Kind"].ToString(),
                int.Parse(http.Request.Headers["Paku-Delivery-Attempt"].ToString(), System.Globalization.CultureInfo.InvariantCulture),
                DateTimeOffset.UtcNow, status));
            http.Response.StatusCode = status;
            if (status >= 400)
            {
                await http.Response.WriteAsync("receiver says no");
            }
        }
        finally
        {
            _inFlight.AddOrUpdate(eventId, 0, (_, c) => c - 1);
        }
    }
}

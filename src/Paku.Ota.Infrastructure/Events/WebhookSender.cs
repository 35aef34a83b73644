using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Infrastructure.Events;

/// <summary>Delivers the outbox's rollout events to the configured endpoints: each pass claims the due
/// deliveries (<see cref="RolloutEventStore.ClaimAsync"/>) and sends them concurrently, so a slow or
/// failing endpoint delays no other. A 2xx answer delivers; anything else (another status, a timeout, a
/// refused connection) is retried with backoff and jitter (<see cref="Domain.Rollouts.Events.DeliveryRetry"/>)
/// until the attempts are used up. At least once: a receiver may see an event twice (a replica that stopped
/// after sending and before recording it), so receivers deduplicate on the event id.</summary>
public sealed class WebhookSender : BackgroundService
{
    public const string UserAgent = "paku-ota-webhooks/1";

    private readonly RolloutEventStore _store;
    private readonly WebhookEndpoints _endpoints;
    private readonly OtaMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookSender> _logger;
    private readonly HttpClient _http;

    public WebhookSender(RolloutEventStore store, WebhookEndpoints endpoints, OtaMetrics metrics, TimeProvider time, ILogger<WebhookSender> logger)
    {
        _store = store;
        _endpoints = endpoints;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        // redirects are not followed: a signed event goes to the configured URL only
        _http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = TimeSpan.FromSeconds(endpoints.Options.TimeoutSeconds),
        };
    }

    /// <summary>The body a receiver gets: the envelope of schema 1 around the event's data.</summary>
    public static byte[] Body(ClaimedDelivery claim)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var body = new JsonObject
        {
            ["schema"] = claim.Schema,
            ["id"] = claim.EventId,
            ["kind"] = claim.Kind,
            ["occurred_at"] = claim.OccurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            ["rollout"] = new JsonObject
            {
                ["name"] = claim.Rollout,
                ["device_model"] = claim.DeviceModel,
                ["firmware_version"] = claim.FirmwareVersion,
            },
            ["data"] = JsonNode.Parse(claim.DataJson),
        };
        return Encoding.UTF8.GetBytes(body.ToJsonString());
    }

    /// <summary>One pass: claims and sends what is due; returns how many deliveries it attempted.</summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        if (_endpoints.All.Count == 0)
        {
            return 0;
        }

        var claims = await _store.ClaimAsync(
            _endpoints.Names, _endpoints.Options.BatchSize, TimeSpan.FromSeconds(_endpoints.Options.LeaseSeconds), cancellationToken);
        await Task.WhenAll(claims.Select(claim => SendAsync(claim, cancellationToken)));
        return claims.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_endpoints.All.Count == 0)
        {
            return;
        }

        _logger.LogInformation("Webhooks: rollout events go to {Endpoints}", string.Join(", ", _endpoints.All.Select(e => $"{e.Name} ({e.Url})")));
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_endpoints.Options.PollSeconds), _time);
        var failing = false;
        do
        {
            try
            {
                // a full batch means more may be due: go on without waiting for the timer
                while (await SendDueAsync(stoppingToken) >= _endpoints.Options.BatchSize)
                {
                }

                failing = false;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    _logger.LogWarning(e, "Webhook deliveries could not be claimed; trying again at the next pass");
                    failing = true;
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public override void Dispose()
    {
        _http.Dispose();
        base.Dispose();
    }

    private async Task SendAsync(ClaimedDelivery claim, CancellationToken cancellationToken)
    {
        var endpoint = _endpoints.All.First(e => e.Name == claim.Endpoint);
        var body = Body(claim);
        int? status = null;
        string? error;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            request.Headers.TryAddWithoutValidation(WebhookSignature.Header, WebhookSignature.Sign(endpoint.Secret, _time.GetUtcNow(), body));
            request.Headers.TryAddWithoutValidation("Paku-Event-Id", claim.EventId.ToString(CultureInfo.InvariantCulture));
            request.Headers.TryAddWithoutValidation("Paku-Event-Kind", claim.Kind);
            request.Headers.TryAddWithoutValidation("Paku-Delivery-Attempt", claim.Attempt.ToString(CultureInfo.InvariantCulture));
            request.Headers.UserAgent.ParseAdd(UserAgent);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                await RecordAsync(claim, delivered: true, status, null, cancellationToken);
                return;
            }

            error = $"HTTP {status} {response.ReasonPhrase}: {await Snippet(response, cancellationToken)}".TrimEnd(' ', ':');
        }
        catch (HttpRequestException e)
        {
            error = $"could not send: {e.Message}";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            error = $"no answer within {_endpoints.Options.TimeoutSeconds} s";
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping: hand the delivery back rather than leave it leased (best effort, briefly)
            using var shortly = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _store.ReleaseAsync(claim, shortly.Token);
            }
            catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException)
            {
                _logger.LogInformation("Delivery of event {Event} to {Endpoint} stays leased until its lease ends: {Reason}", claim.EventId, claim.Endpoint, e.Message);
            }

            throw;
        }

        await RecordAsync(claim, delivered: false, status, error, cancellationToken);
    }

    private async Task RecordAsync(ClaimedDelivery claim, bool delivered, int? status, string? error, CancellationToken cancellationToken)
    {
        var retryAfter = delivered ? null : _endpoints.Retry.DelayAfter(claim.Attempt, Random.Shared.NextDouble());
        var outcome = delivered ? "delivered" : retryAfter is null ? "given_up" : "failed";
        if (!await _store.FinishAsync(claim, delivered, status, error, retryAfter, cancellationToken))
        {
            // the lease ran out before the answer came: another replica owns the delivery now
            outcome = "lease_lost";
        }

        _metrics.WebhookAttempted(claim.Endpoint, outcome);
        if (outcome == "given_up")
        {
            _logger.LogWarning("Webhook delivery of event {Event} to {Endpoint} given up after {Attempts} attempts: {Error}", claim.EventId, claim.Endpoint, claim.Attempt, error);
        }
    }

    private static async Task<string> Snippet(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var buffer = new char[200];
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        var read = await reader.ReadBlockAsync(buffer.AsMemory(), cancellationToken);
        return new string(buffer, 0, read).ReplaceLineEndings(" ").Replace('\0', ' ').Trim();
    }
}

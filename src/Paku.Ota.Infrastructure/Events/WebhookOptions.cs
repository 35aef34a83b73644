using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Infrastructure.Events;

/// <summary><c>Ota:Webhooks</c>: where rollout events are POSTed, and how deliveries are retried.</summary>
public sealed class WebhookOptions
{
    public List<WebhookEndpointOptions> Endpoints { get; set; } = [];

    /// <summary>How often each replica looks for due deliveries.</summary>
    public double PollSeconds { get; set; } = 1;

    /// <summary>Deliveries claimed (and sent concurrently) per pass.</summary>
    public int BatchSize { get; set; } = 20;

    /// <summary>How long a receiver may take to answer.</summary>
    public double TimeoutSeconds { get; set; } = 10;

    /// <summary>How long a claimed delivery belongs to the replica that claimed it; after that (the
    /// replica stopped mid-send) another replica sends it again. Longer than <see cref="TimeoutSeconds"/>.</summary>
    public double LeaseSeconds { get; set; } = 60;

    public double FirstRetrySeconds { get; set; } = 10;

    public double MaxRetrySeconds { get; set; } = 3600;

    /// <summary>Attempts before a delivery is given up (with the defaults, about a day of retries).</summary>
    public int MaxAttempts { get; set; } = 30;
}

/// <summary>One receiver: a name (shown in the delivery status and metrics; keep it when changing the
/// URL, pending deliveries follow the name), its URL, and the shared secret the payloads are signed
/// with, given inline (<c>Secret</c>, e.g. from the environment) or as a file (<c>SecretFile</c>).</summary>
public sealed class WebhookEndpointOptions
{
    public string? Name { get; set; }

    public string? Url { get; set; }

    public string? Secret { get; set; }

    public string? SecretFile { get; set; }
}

/// <summary>A receiver as the sender uses it.</summary>
public sealed record WebhookEndpoint(string Name, Uri Url, byte[] Secret);

/// <summary>The configured receivers and retry policy, checked once when the service starts: a setting
/// that cannot be used stops the start with the setting's name and the reason.</summary>
public sealed class WebhookEndpoints
{
    public const int MinimumSecretBytes = 16;

    private WebhookEndpoints(IReadOnlyList<WebhookEndpoint> endpoints, DeliveryRetry retry, WebhookOptions options)
    {
        All = endpoints;
        Names = [.. endpoints.Select(e => e.Name)];
        Retry = retry;
        Options = options;
    }

    public IReadOnlyList<WebhookEndpoint> All { get; }

    public string[] Names { get; }

    public DeliveryRetry Retry { get; }

    public WebhookOptions Options { get; }

    public static WebhookEndpoints Load(WebhookOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.TimeoutSeconds <= 0 || options.LeaseSeconds <= options.TimeoutSeconds)
        {
            throw new InvalidOperationException(
                $"Ota:Webhooks:LeaseSeconds ({options.LeaseSeconds}) must be longer than Ota:Webhooks:TimeoutSeconds ({options.TimeoutSeconds}), which must be positive: " +
                "a delivery must not be taken over by another replica while its receiver may still be answering.");
        }

        if (options.PollSeconds <= 0 || options.BatchSize < 1)
        {
            throw new InvalidOperationException("Ota:Webhooks:PollSeconds must be positive and Ota:Webhooks:BatchSize at least 1.");
        }

        DeliveryRetry retry;
        try
        {
            retry = new DeliveryRetry(TimeSpan.FromSeconds(options.FirstRetrySeconds), TimeSpan.FromSeconds(options.MaxRetrySeconds), options.MaxAttempts);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidOperationException($"Ota:Webhooks (FirstRetrySeconds, MaxRetrySeconds, MaxAttempts): {e.Message}", e);
        }

        List<WebhookEndpoint> endpoints = [];
        for (var index = 0; index < options.Endpoints.Count; index++)
        {
            var setting = $"Ota:Webhooks:Endpoints:{index}";
            var given = options.Endpoints[index];
            if (string.IsNullOrWhiteSpace(given.Name) || given.Name.Length > 100)
            {
                throw new InvalidOperationException($"{setting}:Name is required (up to 100 characters): it names the endpoint in the delivery status and metrics.");
            }

            if (endpoints.Any(e => e.Name == given.Name))
            {
                throw new InvalidOperationException($"{setting}:Name '{given.Name}' is used by another endpoint; endpoint names must be unique.");
            }

            if (!Uri.TryCreate(given.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            {
                throw new InvalidOperationException($"{setting}:Url must be an absolute http or https URL, not '{given.Url}'.");
            }

            endpoints.Add(new WebhookEndpoint(given.Name, url, Secret(given, setting)));
        }

        return new WebhookEndpoints(endpoints, retry, options);
    }

    private static byte[] Secret(WebhookEndpointOptions given, string setting)
    {
        if (!string.IsNullOrEmpty(given.Secret) && !string.IsNullOrEmpty(given.SecretFile))
        {
            throw new InvalidOperationException($"{setting}: give Secret or SecretFile, not both.");
        }

        string secret;
        if (!string.IsNullOrEmpty(given.SecretFile))
        {
            try
            {
                secret = File.ReadAllText(given.SecretFile).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidOperationException($"{setting}:SecretFile '{given.SecretFile}' cannot be read: {e.Message}", e);
            }
        }
        else
        {
            secret = given.Secret ?? string.Empty;
        }

        var bytes = System.Text.Encoding.UTF8.GetBytes(secret);
        return bytes.Length >= MinimumSecretBytes
            ? bytes
            : throw new InvalidOperationException(
                $"{setting}: the secret (Secret or SecretFile) must be at least {MinimumSecretBytes} bytes; e.g. `openssl rand -hex 32`.");
    }
}

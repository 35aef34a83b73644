using System.Diagnostics.Metrics;

namespace Paku.Ota.Application.Common;

/// <summary>The service's own instruments (meter "Paku.Ota", made by the host's meter factory so it
/// belongs to this host). Labels are bounded values only: models, outcomes and statuses, never device ids.</summary>
public sealed class OtaMetrics
{
    public const string MeterName = "Paku.Ota";

    private readonly Meter _meter;
    private readonly Counter<long> _checks;
    private readonly Counter<long> _downloads;
    private readonly Counter<long> _downloadBytes;
    private readonly Counter<long> _reports;
    private readonly Counter<long> _halts;
    private readonly Counter<long> _webhooks;
    private readonly Counter<long> _advances;

    public OtaMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _checks = _meter.CreateCounter<long>("ota.checks", description: "Device update checks by model and outcome (offered, up_to_date, outside_window, paced, rate_limited, rejected).");
        _downloads = _meter.CreateCounter<long>("ota.downloads", description: "Firmware downloads started, by model.");
        _downloadBytes = _meter.CreateCounter<long>("ota.download.bytes", description: "Firmware bytes served, by model.");
        _reports = _meter.CreateCounter<long>("ota.status.reports", description: "Update statuses recorded (reported by devices or derived at check-in), by status.");
        _halts = _meter.CreateCounter<long>("ota.rollout.halts", description: "Rollouts halted automatically by their failure threshold or a phase's failure gate.");
        _advances = _meter.CreateCounter<long>("ota.rollout.phase.advances", description: "Phased rollouts moved to their next phase, by trigger (automatic when the gates passed, manual by an operator).");
        _webhooks = _meter.CreateCounter<long>(
            "ota.webhook.attempts", description: "Webhook delivery attempts of rollout events, by endpoint and outcome (delivered, failed, given_up, lease_lost).");
    }

    public void Checked(string model, string outcome) =>
        _checks.Add(1, new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("outcome", outcome));

    public void Downloaded(string model, long bytes)
    {
        var tag = new KeyValuePair<string, object?>("model", model);
        _downloads.Add(1, tag);
        _downloadBytes.Add(bytes, tag);
    }

    public void StatusRecorded(string status) => _reports.Add(1, new KeyValuePair<string, object?>("status", status));

    public void RolloutHalted() => _halts.Add(1);

    /// <param name="endpoint">A configured endpoint's name (bounded by configuration).</param>
    public void WebhookAttempted(string endpoint, string outcome) =>
        _webhooks.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("outcome", outcome));

    public void PhaseAdvanced(string trigger) => _advances.Add(1, new KeyValuePair<string, object?>("trigger", trigger));
}

using System.Diagnostics.Metrics;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Metrics;

public sealed class FleetGaugeOptions
{
    /// <summary>How often the fleet figures are read from the database (never per scrape).</summary>
    public double RefreshSeconds { get; set; } = 30;
}

/// <summary>Fleet-wide gauges (devices by model and version, rollout progress, storage) read from the
/// database on a timer and served from memory, so a scrape costs no query. Labels are models,
/// versions, rollout names and statuses: bounded sets an operator controls, never device ids.</summary>
public sealed class FleetGauges : BackgroundService
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly FleetGaugeOptions _options;
    private readonly ILogger<FleetGauges> _logger;
    private readonly Meter _meter;
    private volatile Figures _figures = Figures.None;

    public FleetGauges(NpgsqlDataSource dataSource, FleetGaugeOptions options, ILogger<FleetGauges> logger, IMeterFactory meters)
    {
        _meter = meters.Create(OtaMetrics.MeterName);
        _dataSource = dataSource;
        _options = options;
        _logger = logger;
        _meter.CreateObservableGauge("ota.devices", () => _figures.Devices, description: "Registered devices by model and running firmware version.");
        _meter.CreateObservableGauge("ota.active.rollouts", () => _figures.ActiveRollouts, description: "Rollouts currently offering updates.");
        _meter.CreateObservableGauge("ota.rollouts", () => _figures.RolloutsByState, description: "Rollouts by state (active, paused, halted).");
        _meter.CreateObservableGauge("ota.rollout.devices", () => _figures.RolloutDevices, description: "Devices of active and recently halted rollouts by outcome.");
        _meter.CreateObservableGauge("ota.rollout.failure.ratio", () => _figures.FailureRatios, description: "Share of a rollout's attempts that failed or rolled back (0..1).");
        _meter.CreateObservableGauge("ota.rollout.last.progress.timestamp", () => _figures.LastProgress, unit: "s",
            description: "Unix time of the last status change of any device in an active rollout.");
        _meter.CreateObservableGauge("ota.devices.unseen.after.update", () => _figures.UnseenAfterUpdate,
            description: "Devices that reported a successful update and have not been seen for 24 hours.");
        _meter.CreateObservableGauge("ota.webhook.undelivered", () => _figures.Undelivered,
            description: "Rollout event deliveries not (yet) accepted by their webhook endpoint, by endpoint and state (pending, given_up).");
        _meter.CreateObservableGauge("ota.firmware.storage", () => _figures.StorageBytes, unit: "By", description: "Bytes of stored firmware images.");
    }

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        using var grid = await connection.QueryMultipleAsync(new CommandDefinition("""
            select device_model, current_firmware_version, count(*)::bigint as n from devices group by 1, 2;
            select count(*)::bigint from rollouts where is_active;
            select r.name, rd.status, count(*)::bigint as n
              from rollout_devices rd join rollouts r on r.id = rd.rollout_id
             where r.is_active or r.halted_at > now() - interval '7 days'
             group by 1, 2;
            select r.name, coalesce(h.failures::float8 / nullif(h.attempts, 0), 0) as ratio
              from rollouts r cross join lateral (select * from rollout_health h where h.rollout_id = r.id) h
             where r.is_active or r.halted_at > now() - interval '7 days';
            select h.state, count(*)::bigint from rollout_health h group by h.state;
            select r.name, extract(epoch from coalesce(max(rd.updated_at), r.updated_at))::float8 as at
              from rollouts r left join rollout_devices rd on rd.rollout_id = r.id
             where r.is_active
             group by r.name, r.updated_at;
            select count(*)::bigint from devices where update_status = 'success' and last_seen < now() - interval '24 hours';
            select coalesce(sum(size_bytes), 0)::bigint from firmware_binaries;
            select endpoint, state, count(*)::bigint from rollout_event_deliveries where state <> 'delivered' group by 1, 2;
            """, cancellationToken: cancellationToken));
        var devices = (await grid.ReadAsync<(string Model, string Version, long N)>())
            .Select(d => new Measurement<long>(d.N, new("model", d.Model), new("version", d.Version))).ToArray();
        var active = await grid.ReadSingleAsync<long>();
        var rolloutDevices = (await grid.ReadAsync<(string Name, string Status, long N)>())
            .Select(r => new Measurement<long>(r.N, new("rollout", r.Name), new("status", r.Status))).ToArray();
        var ratios = (await grid.ReadAsync<(string Name, double Ratio)>())
            .Select(r => new Measurement<double>(r.Ratio, new KeyValuePair<string, object?>("rollout", r.Name))).ToArray();
        var states = (await grid.ReadAsync<(string State, long N)>()).ToDictionary(s => s.State, s => s.N);
        var byState = Enum.GetValues<RolloutState>()
            .Select(s => new Measurement<long>(states.GetValueOrDefault(s.ToWire()), new KeyValuePair<string, object?>("state", s.ToWire()))).ToArray();
        var progress = (await grid.ReadAsync<(string Name, double At)>())
            .Select(r => new Measurement<double>(r.At, new KeyValuePair<string, object?>("rollout", r.Name))).ToArray();
        var unseen = await grid.ReadSingleAsync<long>();
        var storage = await grid.ReadSingleAsync<long>();
        var undelivered = (await grid.ReadAsync<(string Endpoint, string State, long N)>())
            .Select(u => new Measurement<long>(u.N, new("endpoint", u.Endpoint), new("state", u.State))).ToArray();
        _figures = new Figures(devices, active, byState, rolloutDevices, ratios, progress, unseen, storage, undelivered);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failing = false;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.RefreshSeconds));
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
                failing = false;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (!failing)
                {
                    _logger.LogWarning(e, "Fleet gauges could not be read from the database; the last figures stay");
                    failing = true;
                }
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private sealed record Figures(
        Measurement<long>[] Devices,
        long ActiveRollouts,
        Measurement<long>[] RolloutsByState,
        Measurement<long>[] RolloutDevices,
        Measurement<double>[] FailureRatios,
        Measurement<double>[] LastProgress,
        long UnseenAfterUpdate,
        long StorageBytes,
        Measurement<long>[] Undelivered)
    {
        public static Figures None { get; } = new([], 0, [], [], [], [], 0, 0, []);
    }
}

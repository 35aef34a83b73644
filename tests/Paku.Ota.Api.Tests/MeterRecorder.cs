using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Api.Tests;

/// <summary>Reads one test host's own "Paku.Ota" instruments. Several hosts live in a test process and
/// their meters share a name; the meter's scope (the host's IMeterFactory) tells them apart.</summary>
public sealed class MeterRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _sums = new();
    private readonly ConcurrentDictionary<string, double> _last = new();

    public MeterRecorder(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == OtaMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>What counters added since this recorder started, for measurements carrying every given tag.</summary>
    public double Sum(string instrument, params (string Key, string Value)[] tags) =>
        _sums.Where(kv => Matches(kv.Key, instrument, tags)).Sum(kv => kv.Value);

    /// <summary>The latest value an observable gauge reports (it is polled now).</summary>
    public double? Gauge(string instrument, params (string Key, string Value)[] tags)
    {
        _last.Clear();
        _listener.RecordObservableInstruments();
        var hits = _last.Where(kv => Matches(kv.Key, instrument, tags)).Select(kv => kv.Value).ToList();
        return hits.Count == 0 ? null : hits[0];
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = instrument.Name + "|" + string.Join("|", tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
        if (instrument is ObservableGauge<long> or ObservableGauge<double>)
        {
            _last[key] = value;
        }
        else
        {
            _sums.AddOrUpdate(key, value, (_, sum) => sum + value);
        }
    }

    private static bool Matches(string key, string instrument, (string Key, string Value)[] tags) =>
        key.StartsWith(instrument + "|", StringComparison.Ordinal) && tags.All(t => key.Contains($"|{t.Key}={t.Value}", StringComparison.Ordinal));
}

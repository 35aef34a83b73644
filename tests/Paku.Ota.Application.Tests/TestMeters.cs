using System.Diagnostics.Metrics;

namespace Paku.Ota.Application.Tests;

/// <summary>Meters for <see cref="Common.OtaMetrics"/> outside a host.</summary>
internal sealed class TestMeters : IMeterFactory
{
    public Meter Create(MeterOptions options) => new(options);

    public void Dispose()
    {
    }
}

namespace Paku.Ota.Api.Tests;

/// <summary>A clock a test moves by hand, for the service's TimeProvider. Timers stay on real time
/// (only <see cref="GetUtcNow"/> is replaced), so background loops keep running.</summary>
public sealed class TestClock(DateTimeOffset start) : TimeProvider
{
    private long _ticks = start.UtcTicks;

    public DateTimeOffset Now
    {
        get => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);
        set => Interlocked.Exchange(ref _ticks, value.UtcTicks);
    }

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}

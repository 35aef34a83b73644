using NSubstitute;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Rollouts.Phases;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Tests.Rollouts;

public sealed class AttemptTimeoutsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly UpdateAttempt Downloading = new("1.1.0", "1.0.0", UpdateStatus.Downloading, 30);

    private IOverdueAttempts _overdue = null!;
    private IUpdateLedger _ledger = null!;
    private IUpdateLedgerSession _session = null!;
    private AttemptTimeouts _timeouts = null!;

    [SetUp]
    public void Wire()
    {
        _overdue = Substitute.For<IOverdueAttempts>();
        _overdue.FindAsync(Now, Arg.Any<int>(), Arg.Any<CancellationToken>()).Returns([new OverdueAttempt("dev1", AttemptDeadline.Default)]);
        _session = Substitute.For<IUpdateLedgerSession>();
        _ledger = Substitute.For<IUpdateLedger>();
        _ledger.OpenAsync("dev1", Arg.Any<CancellationToken>()).Returns(_session);
        var health = new RolloutHealthMonitor(
            Substitute.For<IRolloutHealthStore>(), Substitute.For<IRolloutStore>(), Substitute.For<ICatalog>(), new OtaMetrics(new TestMeters()),
            new RolloutPhaseAdvancer(Substitute.For<ICatalog>(), new OtaMetrics(new TestMeters()), new FixedTime(Now)), new FixedTime(Now));
        _timeouts = new AttemptTimeouts(_overdue, _ledger, health, new OtaMetrics(new TestMeters()), new FixedTime(Now));
    }

    [Test]
    public async Task An_attempt_silent_past_its_deadline_is_recorded_as_timed_out_in_its_rollout()
    {
        _session.Device.Returns(Locked(changedAt: Now.AddHours(-7)));

        var timedOut = await _timeouts.TimeOutOverdueAsync(CancellationToken.None);

        Assert.That(timedOut, Is.EqualTo(1));
        _session.Received(1).SaveAttempt("dev1", 3, Downloading with { Status = UpdateStatus.TimedOut }, false);
        _session.Received(1).AppendHistory(Arg.Is<StatusEntry>(e => e.Status == UpdateStatus.TimedOut && !e.FromDevice && e.RolloutId == 3));
        await _session.Received(1).CommitAsync(Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_device_heard_from_since_the_search_is_not_timed_out()
    {
        _session.Device.Returns(Locked(changedAt: Now.AddMinutes(-1)));

        var timedOut = await _timeouts.TimeOutOverdueAsync(CancellationToken.None);

        Assert.That(timedOut, Is.Zero);
        _session.DidNotReceiveWithAnyArgs().SaveAttempt(default!, default, default!, default);
        await _session.DidNotReceive().CommitAsync(Arg.Any<CancellationToken>());
        await _session.Received(1).DisposeAsync();
    }

    private static DeviceUpdateState Locked(DateTimeOffset changedAt) =>
        new("dev1", "esp32", "1.0.0", 3, "1.1.0", new StoredAttempt(3, Downloading), changedAt);

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

using NSubstitute;
using NSubstitute.ExceptionExtensions;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Tests.Rollouts;

public sealed class RolloutHealthMonitorTests
{
    private const long Id = 7;

    private IRolloutHealthStore _health = null!;
    private IRolloutStore _rollouts = null!;
    private ICatalog _catalog = null!;
    private IRolloutChange _change = null!;
    private RolloutHealthMonitor _monitor = null!;

    [SetUp]
    public void Wire()
    {
        _health = Substitute.For<IRolloutHealthStore>();
        _rollouts = Substitute.For<IRolloutStore>();
        _catalog = Substitute.For<ICatalog>();
        _change = Substitute.For<IRolloutChange>();
        _rollouts.OpenAsync("v1.1.0-all", Arg.Any<CancellationToken>()).Returns(_change);
        _monitor = new RolloutHealthMonitor(_health, _rollouts, _catalog, new OtaMetrics(new TestMeters()));
    }

    [Test]
    public async Task A_failure_past_the_threshold_halts_the_rollout_at_once_under_its_lock()
    {
        var rollout = Stored();
        _change.Rollout.Returns(rollout);
        Figures(attempts: 20, failed: 2);

        await _monitor.AfterCommitAsync(Id, Failure(), "dev07", CancellationToken.None);

        Assert.That(rollout.State, Is.EqualTo(RolloutState.Halted));
        Assert.That(rollout.PauseReason, Is.EqualTo("halted: 2 of 20 attempts failed or rolled back (10 %), above the 5 % threshold"));
        await _change.Received(1).SaveHaltAsync(Arg.Is<string>(d => d.Contains("\"triggered_by\":\"dev07\"") && d.Contains("\"attempts\":20")), Arg.Any<CancellationToken>());
        _change.Received(1).Record(Arg.Is<RolloutEvent>(e =>
            e.Kind == RolloutEventKind.Halted && ((HaltedData)e.Data).Reason == rollout.PauseReason &&
            ((HaltedData)e.Data).Figures.Attempts == 20 && ((HaltedData)e.Data).Figures.Failed == 2 && ((HaltedData)e.Data).TriggeredBy == "dev07"));
        _catalog.Received(1).Invalidate();
    }

    [Test]
    public async Task A_rollout_another_replica_halted_first_is_not_halted_or_audited_again()
    {
        _change.Rollout.Returns(Stored(isActive: false, halted: true));
        Figures(attempts: 20, failed: 2);

        await _monitor.AfterCommitAsync(Id, Failure(), "dev07", CancellationToken.None);

        await _change.DidNotReceive().SaveHaltAsync(Arg.Any<string>(), Arg.Any<CancellationToken>());
        _change.DidNotReceive().Record(Arg.Any<RolloutEvent>());
        _catalog.DidNotReceive().Invalidate();
    }

    [Test]
    public async Task The_halt_is_judged_on_the_threshold_as_it_is_under_the_lock()
    {
        _change.Rollout.Returns(Stored(threshold: new FailureThreshold(50, 20)));
        Figures(attempts: 20, failed: 2);

        await _monitor.AfterCommitAsync(Id, Failure(), "dev07", CancellationToken.None);

        await _change.DidNotReceive().SaveHaltAsync(Arg.Any<string>(), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task An_attempt_that_is_no_failure_is_judged_at_the_next_pass_not_on_the_request()
    {
        var rollout = Stored();
        _change.Rollout.Returns(rollout);
        Figures(attempts: 20, failed: 6);

        await _monitor.AfterCommitAsync(Id, Started(), "dev20", CancellationToken.None);
        await _health.DidNotReceive().ReadAsync(Arg.Any<IReadOnlyCollection<long>>(), Arg.Any<CancellationToken>());
        var halted = await _monitor.JudgeMovedAsync(CancellationToken.None);

        Assert.That(halted, Is.EqualTo(new[] { "v1.1.0-all" }));
        Assert.That(_monitor.HasMoved, Is.False);
        await _change.Received(1).SaveHaltAsync(Arg.Is<string>(d => d.Contains("\"triggered_by\":\"dev20\"")), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_judgement_the_database_refuses_does_not_fail_the_stored_report_and_is_retried()
    {
        _health.ReadAsync(Arg.Any<IReadOnlyCollection<long>>(), Arg.Any<CancellationToken>()).ThrowsAsync(new TimeoutException());

        await _monitor.AfterCommitAsync(Id, Failure(), "dev07", CancellationToken.None);

        Assert.That(_monitor.HasMoved, Is.True);
        Assert.That(() => _monitor.JudgeMovedAsync(CancellationToken.None), Throws.TypeOf<TimeoutException>());
        Assert.That(_monitor.HasMoved, Is.True, "kept for the pass after");
    }

    [Test]
    public async Task An_event_outside_any_rollout_is_not_judged()
    {
        await _monitor.AfterCommitAsync(null, Failure(), "dev07", CancellationToken.None);

        Assert.That(_monitor.HasMoved, Is.False);
        await _health.DidNotReceive().ReadAsync(Arg.Any<IReadOnlyCollection<long>>(), Arg.Any<CancellationToken>());
    }

    private static Rollout Stored(bool isActive = true, bool halted = false, FailureThreshold? threshold = null) =>
        Rollout.Restore("v1.1.0-all", "esp32", FirmwareVersion.Parse("1.1.0"), TargetType.All, TargetFilter.None, 100, isActive,
            allowDowngrade: false, threshold ?? FailureThreshold.Default, halted ? "halted: earlier" : null, halted);

    private static LifecycleDecision Failure() =>
        UpdateLifecycle.OnReport(null, "1.1.0", UpdateStatus.Failed, 0, "1.0.0");

    private static LifecycleDecision Started() =>
        UpdateLifecycle.OnReport(null, "1.1.0", UpdateStatus.Downloading, 10, "1.0.0");

    private void Figures(int attempts, int failed) =>
        _health.ReadAsync(Arg.Any<IReadOnlyCollection<long>>(), Arg.Any<CancellationToken>()).Returns(
            [new RolloutHealthFigures(Id, "v1.1.0-all", RolloutState.Active, FailureThreshold.Default, new RolloutCounts(attempts, failed, 0))]);
}

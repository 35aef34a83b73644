using NSubstitute;
using NSubstitute.ExceptionExtensions;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Rollouts.Phases;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Tests.Rollouts;

public sealed class RolloutHealthMonitorTests
{
    private const long Id = 7;
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private IRolloutHealthStore _health = null!;
    private IRolloutStore _rollouts = null!;
    private ICatalog _catalog = null!;
    private IRolloutChange _change = null!;
    private RolloutHealthMonitor _monitor = null!;
    private ManualTime _time = null!;

    [SetUp]
    public void Wire()
    {
        _health = Substitute.For<IRolloutHealthStore>();
        _rollouts = Substitute.For<IRolloutStore>();
        _catalog = Substitute.For<ICatalog>();
        _change = Substitute.For<IRolloutChange>();
        _rollouts.OpenAsync("v1.1.0-all", Arg.Any<CancellationToken>()).Returns(_change);
        _time = new ManualTime(Start);
        _monitor = new RolloutHealthMonitor(
            _health, _rollouts, _catalog, new OtaMetrics(new TestMeters()), new RolloutPhaseAdvancer(_catalog, new OtaMetrics(new TestMeters()), _time), _time);
    }

    [Test]
    public async Task A_phase_whose_gates_passed_advances_under_the_rollouts_lock_and_is_audited_as_the_system()
    {
        var rollout = Phased(index: 0);
        _change.Rollout.Returns(rollout);
        PhasedFigures(index: 0, confirmed: 2);
        _time.Now = Start.AddMinutes(1);

        await _monitor.SweepAsync(CancellationToken.None);

        Assert.That((rollout.Phasing!.Index, rollout.Percentage, rollout.Phasing.StartedAt), Is.EqualTo((1, 50, Start.AddMinutes(1))));
        await _change.Received(1).SaveAdvanceAsync("system",
            Arg.Is<string>(d => d.Contains("\"from_phase\":1") && d.Contains("\"to_phase\":2") && d.Contains("\"trigger\":\"automatic\"")), Arg.Any<CancellationToken>());
        _catalog.Received().Invalidate();
    }

    [Test]
    public async Task A_phase_another_replica_advanced_meanwhile_is_not_advanced_again()
    {
        // the figures were read for phase 1; under the lock the rollout is already in phase 2
        _change.Rollout.Returns(Phased(index: 1));
        PhasedFigures(index: 0, confirmed: 50);

        await _monitor.SweepAsync(CancellationToken.None);

        await _change.DidNotReceive().SaveAdvanceAsync(Arg.Any<string>(), Arg.Any<string>(), Arg.Any<CancellationToken>());
        await _change.DidNotReceive().SaveAsync(Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_phase_that_has_not_met_its_gates_is_left_alone_without_taking_the_lock()
    {
        PhasedFigures(index: 0, confirmed: 1);

        await _monitor.SweepAsync(CancellationToken.None);

        await _rollouts.DidNotReceive().OpenAsync(Arg.Any<string>(), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_phase_whose_failure_gate_fails_halts_the_rollout_with_the_phase_and_figures()
    {
        var rollout = Phased(index: 0);
        _change.Rollout.Returns(rollout);
        // 1 failure in 3 attempts: 33 %, above the phase's 10 % but within the rollout's 50 % threshold
        PhasedFigures(index: 0, confirmed: 2, attempts: 3, failed: 1);

        var halted = await _monitor.SweepAsync(CancellationToken.None);

        Assert.That(halted, Is.EqualTo(new[] { "v1.1.0-all" }));
        Assert.That(rollout.State, Is.EqualTo(RolloutState.Halted));
        Assert.That(rollout.PauseReason, Does.StartWith("halted in phase 1 of 3 (10 %): its failure gate failed: 1 of 3 attempts"));
        await _change.Received(1).SaveHaltAsync(Arg.Is<string>(d => d.Contains("\"phase\":1") && d.Contains("\"max_failure_percent\":10")), Arg.Any<CancellationToken>());
        await _change.DidNotReceive().SaveAdvanceAsync(Arg.Any<string>(), Arg.Any<string>(), Arg.Any<CancellationToken>());
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
        _catalog.Received(1).Invalidate();
    }

    [Test]
    public async Task A_rollout_another_replica_halted_first_is_not_halted_or_audited_again()
    {
        _change.Rollout.Returns(Stored(isActive: false, halted: true));
        Figures(attempts: 20, failed: 2);

        await _monitor.AfterCommitAsync(Id, Failure(), "dev07", CancellationToken.None);

        await _change.DidNotReceive().SaveHaltAsync(Arg.Any<string>(), Arg.Any<CancellationToken>());
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

    private static RolloutPlan Plan() =>
        RolloutPlan.Create(TargetType.Canary, [new PhaseInput(10, null, 2, 10m, 60), new PhaseInput(50, null, 5, null, null), new PhaseInput(100, null, null, null, null)]).Plan!;

    private static Rollout Phased(int index) =>
        Rollout.Restore("v1.1.0-all", "esp32", FirmwareVersion.Parse("1.1.0"), TargetType.Canary, TargetFilter.None, index == 0 ? 10 : 50, true,
            allowDowngrade: false, new FailureThreshold(50m, 20), null, false, phasing: new RolloutPhasing(Plan(), index, Start.AddMinutes(-5), null));

    private void PhasedFigures(int index, int confirmed, int attempts = 2, int failed = 0) =>
        _health.ReadMovedSinceChangedAsync(Arg.Any<CancellationToken>()).Returns(
            [new RolloutHealthFigures(Id, "v1.1.0-all", RolloutState.Active, new FailureThreshold(50m, 20),
                new RolloutCounts(Math.Max(attempts, confirmed), failed, 0, Confirmed: confirmed), new RolloutPhasing(Plan(), index, Start.AddMinutes(-5), null))]);

    private static LifecycleDecision Failure() =>
        UpdateLifecycle.OnReport(null, "1.1.0", UpdateStatus.Failed, 0, "1.0.0");

    private static LifecycleDecision Started() =>
        UpdateLifecycle.OnReport(null, "1.1.0", UpdateStatus.Downloading, 10, "1.0.0");

    private void Figures(int attempts, int failed) =>
        _health.ReadAsync(Arg.Any<IReadOnlyCollection<long>>(), Arg.Any<CancellationToken>()).Returns(
            [new RolloutHealthFigures(Id, "v1.1.0-all", RolloutState.Active, FailureThreshold.Default, new RolloutCounts(attempts, failed, 0))]);

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

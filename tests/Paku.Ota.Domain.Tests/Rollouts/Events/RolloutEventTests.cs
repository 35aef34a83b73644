using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Domain.Tests.Rollouts.Events;

public sealed class RolloutEventTests
{
    [Test]
    public void Pausing_an_active_rollout_is_a_paused_event_with_the_reason_and_the_actor()
    {
        var rollout = Make.NewRollout();
        rollout.Pause("paused by ops");

        var e = RolloutEvent.ForOperatorChange(rollout, RolloutState.Active, null, "ops");

        Assert.That(e!.Kind, Is.EqualTo(RolloutEventKind.Paused));
        Assert.That(e.Data, Is.EqualTo(new PausedData("paused by ops", "ops")));
        Assert.That((e.RolloutName, e.DeviceModel, e.FirmwareVersion), Is.EqualTo(("v1.2.0-canary", "esp32", "1.2.0")));
    }

    [Test]
    public void Resuming_a_halted_rollout_is_a_resumed_event_that_says_what_it_was()
    {
        var rollout = Make.NewRollout();
        rollout.Halt("halted: 3 of 20 attempts failed");
        rollout.Resume();

        var e = RolloutEvent.ForOperatorChange(rollout, RolloutState.Halted, "halted: 3 of 20 attempts failed", "ops");

        Assert.That(e!.Kind, Is.EqualTo(RolloutEventKind.Resumed));
        Assert.That(e.Data, Is.EqualTo(new ResumedData("ops", "halted", "halted: 3 of 20 attempts failed")));
    }

    [TestCase(RolloutState.Active, true)]
    [TestCase(RolloutState.Paused, false)]
    public void A_change_that_leaves_the_rollout_running_or_stopped_is_no_event(RolloutState before, bool activeAfter)
    {
        var rollout = Make.NewRollout(isActive: activeAfter);
        if (!activeAfter)
        {
            rollout.Pause("paused by ops");
        }

        Assert.That(RolloutEvent.ForOperatorChange(rollout, before, null, "ops"), Is.Null);
    }

    [Test]
    public void A_halt_event_carries_the_reason_and_the_figures_it_was_decided_on()
    {
        var rollout = Make.NewRollout(threshold: new FailureThreshold(5, 20));
        var counts = new RolloutCounts(Attempts: 20, Failed: 1, RolledBack: 1, TimedOut: 1);
        var verdict = RolloutHealth.Evaluate(counts, rollout.Threshold);

        var e = RolloutEvent.Halted(rollout, counts, verdict, "dev07");

        var data = (HaltedData)e.Data;
        Assert.That(e.Kind.ToWire(), Is.EqualTo("rollout.halted"));
        Assert.That(data.Reason, Is.EqualTo(verdict.Reason));
        Assert.That(data.Figures, Is.EqualTo(new HaltFigures(20, 1, 1, 1, 15m, 5m, 20)));
        Assert.That(data.TriggeredBy, Is.EqualTo("dev07"));
    }

    [Test]
    public void Every_kind_has_a_distinct_wire_name()
    {
        Assert.That(RolloutEventKinds.WireNames, Is.Unique);
        Assert.That(RolloutEventKinds.WireNames, Has.Count.EqualTo(Enum.GetValues<RolloutEventKind>().Length));
        Assert.That(RolloutEventKinds.WireNames, Has.All.StartWith("rollout."));
    }
}

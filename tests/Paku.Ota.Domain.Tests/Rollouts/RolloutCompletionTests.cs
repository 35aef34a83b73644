using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class RolloutCompletionTests
{
    private static ModelDevice On(string id, string version, bool blocked = false, params string[] groups) => new(id, groups, Make.V(version), blocked);

    [Test]
    public void An_all_rollout_at_100_completes_once_every_device_of_its_model_runs_its_version_or_newer()
    {
        var rollout = Make.NewRollout(type: TargetType.All, version: "1.2.0");

        Assert.That(RolloutCompletion.IsComplete(rollout, confirmed: 2, [On("a", "1.2.0"), On("b", "1.3.0")]), Is.True);
        Assert.That(RolloutCompletion.IsComplete(rollout, confirmed: 2, [On("a", "1.2.0"), On("c", "1.1.0")]), Is.False);
    }

    [Test]
    public void A_rollout_short_of_100_or_stopped_or_never_confirmed_is_not_complete()
    {
        ModelDevice[] all = [On("a", "1.2.0")];
        var canary = Make.NewRollout(type: TargetType.Canary, percentage: 50);
        var paused = Make.NewRollout();
        paused.Pause("paused by ops");

        Assert.That(RolloutCompletion.IsComplete(canary, 1, all), Is.False);
        Assert.That(RolloutCompletion.IsComplete(paused, 1, all), Is.False);
        Assert.That(RolloutCompletion.IsComplete(Make.NewRollout(), confirmed: 0, all), Is.False, "nobody took it through this rollout");
    }

    [Test]
    public void Devices_it_does_not_target_and_blocked_devices_do_not_hold_a_completion_back()
    {
        var specific = Make.NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("a"));
        var group = Make.NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("lab"));

        Assert.That(RolloutCompletion.IsComplete(specific, 1, [On("a", "1.2.0"), On("other", "1.0.0"), On("x", "1.0.0", blocked: true)]), Is.True);
        Assert.That(RolloutCompletion.IsComplete(group, 1, [On("a", "1.2.0", false, "lab"), On("b", "1.0.0", false, "field")]), Is.True);
        Assert.That(RolloutCompletion.IsComplete(group, 1, [On("a", "1.2.0", false, "lab"), On("b", "1.0.0", false, "lab")]), Is.False);
    }

    [Test]
    public void A_downgrade_rollout_completes_only_when_its_devices_run_exactly_its_version()
    {
        var rollback = Make.NewRollout(type: TargetType.Specific, version: "1.1.0", filter: TargetFilter.ForDevices("a", "b"), allowDowngrade: true);

        Assert.That(RolloutCompletion.IsComplete(rollback, 2, [On("a", "1.1.0"), On("b", "1.1.0")]), Is.True);
        Assert.That(RolloutCompletion.IsComplete(rollback, 1, [On("a", "1.1.0"), On("b", "1.2.0")]), Is.False);
    }
}

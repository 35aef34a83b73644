using Paku.Ota.Domain.Rollouts;
using static Paku.Ota.Domain.Tests.Make;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class RolloutTests
{
    private static readonly string[] NoGroups = [];

    private static RolloutCreation Create(
        TargetType type,
        TargetFilter? filter = null,
        int percentage = 10,
        string? name = "v1.2.0-rollout",
        string? model = "esp32") =>
        Rollout.Create(name, model, V("1.2.0"), type, filter, percentage);

    private static IEnumerable<string> Ids(int count) => Enumerable.Range(1, count).Select(i => $"esp32_{i:D6}");

    [Test]
    public void A_created_rollout_is_active_with_the_default_threshold()
    {
        var created = Rollout.Create("v1.0.0-canary", "esp32", V("v1.0.0"), TargetType.Canary, null, 10);

        Assert.That(created.Succeeded, Is.True);
        var rollout = created.Rollout!;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(created.Errors, Is.Empty);
            Assert.That(rollout.Name, Is.EqualTo("v1.0.0-canary"));
            Assert.That(rollout.DeviceModel, Is.EqualTo("esp32"));
            Assert.That(rollout.Version.ToString(), Is.EqualTo("1.0.0"));
            Assert.That(rollout.TargetType, Is.EqualTo(TargetType.Canary));
            Assert.That(rollout.Percentage, Is.EqualTo(10));
            Assert.That(rollout.IsActive, Is.True);
            Assert.That(rollout.IsHalted, Is.False);
            Assert.That(rollout.PauseReason, Is.Null);
            Assert.That(rollout.AllowDowngrade, Is.False);
            Assert.That(rollout.Threshold, Is.EqualTo(new FailureThreshold(5m, 20)));
            Assert.That(rollout.Filter.IsEmpty, Is.True);
        }
    }

    [Test]
    public void Each_target_type_is_created_with_its_filter()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Create(TargetType.Specific, TargetFilter.ForDevices("esp32_001", "esp32_002")).Errors, Is.Empty);
            Assert.That(Create(TargetType.Group, TargetFilter.ForGroups("location:warehouse", "function:sensor")).Errors, Is.Empty);
            Assert.That(Create(TargetType.Canary, TargetFilter.None).Errors, Is.Empty);
            Assert.That(Create(TargetType.All, null, 100).Errors, Is.Empty);
        }
    }

    private static IEnumerable<TestCaseData> InvalidRollouts()
    {
        yield return new TestCaseData(TargetType.Canary, null, 10, "v1 canary", "esp32", "name", "rollout name 'v1 canary' contains U+0020")
            .SetName("A name with a space is refused under 'name'");
        yield return new TestCaseData(TargetType.Canary, null, 10, "", "esp32", "name", "rollout name is required")
            .SetName("A missing name is refused under 'name'");
        yield return new TestCaseData(TargetType.Canary, null, 10, new string('n', 129), "esp32", "name", "at most 128")
            .SetName("A name longer than 128 characters is refused under 'name'");
        yield return new TestCaseData(TargetType.Canary, null, 10, "r", "esp32/s3", "device_model", "device model 'esp32/s3' contains '/'")
            .SetName("An invalid model is refused under 'device_model'");
        yield return new TestCaseData(TargetType.Specific, null, 10, "r", "esp32", "target_filter.device_ids", "needs at least one device id")
            .SetName("A specific rollout without device ids is refused under 'target_filter.device_ids'");
        yield return new TestCaseData(TargetType.Specific, TargetFilter.ForDevices("esp32 001"), 10, "r", "esp32", "target_filter.device_ids", "device id 'esp32 001'")
            .SetName("A specific rollout with an invalid device id is refused under 'target_filter.device_ids'");
        yield return new TestCaseData(TargetType.Specific, new TargetFilter(Ids(10_001)), 10, "r", "esp32", "target_filter.device_ids", "at most 10000 device ids, got 10001")
            .SetName("A specific rollout over 10,000 device ids is refused under 'target_filter.device_ids'");
        yield return new TestCaseData(TargetType.Specific, new TargetFilter(["esp32_001"], ["env:lab"]), 10, "r", "esp32", "target_filter.groups", "target_type 'group'")
            .SetName("A specific rollout with groups is refused under 'target_filter.groups'");
        yield return new TestCaseData(TargetType.Group, null, 10, "r", "esp32", "target_filter.groups", "needs at least one group")
            .SetName("A group rollout without groups is refused under 'target_filter.groups'");
        yield return new TestCaseData(TargetType.Group, TargetFilter.ForGroups("location warehouse"), 10, "r", "esp32", "target_filter.groups", "group 'location warehouse'")
            .SetName("A group rollout with an invalid group is refused under 'target_filter.groups'");
        yield return new TestCaseData(TargetType.Group, new TargetFilter(["esp32_001"], ["env:lab"]), 10, "r", "esp32", "target_filter.device_ids", "target_type 'specific'")
            .SetName("A group rollout with device ids is refused under 'target_filter.device_ids'");
        yield return new TestCaseData(TargetType.Canary, TargetFilter.ForDevices("esp32_001"), 10, "r", "esp32", "target_filter.device_ids", "a canary rollout takes no device ids")
            .SetName("A canary rollout with device ids is refused under 'target_filter.device_ids'");
        yield return new TestCaseData(TargetType.All, TargetFilter.ForGroups("env:lab"), 100, "r", "esp32", "target_filter.groups", "an all rollout takes no groups")
            .SetName("An all rollout with groups is refused rather than reaching every device");
        yield return new TestCaseData(TargetType.Canary, null, 101, "r", "esp32", "rollout_percentage", "between 0 and 100, got 101")
            .SetName("A percentage above 100 is refused under 'rollout_percentage'");
        yield return new TestCaseData(TargetType.Canary, null, -1, "r", "esp32", "rollout_percentage", "got -1")
            .SetName("A negative percentage is refused under 'rollout_percentage'");
        yield return new TestCaseData((TargetType)42, null, 10, "r", "esp32", "target_type", "specific, canary, all, group")
            .SetName("An unknown target type is refused under 'target_type'");
    }

    [TestCaseSource(nameof(InvalidRollouts))]
    public void Invalid_rollouts_are_refused_naming_the_field(
        TargetType type, TargetFilter? filter, int percentage, string name, string model, string field, string message)
    {
        var created = Create(type, filter, percentage, name, model);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(created.Succeeded, Is.False);
            Assert.That(created.Rollout, Is.Null);
            Assert.That(created.Errors.Select(e => e.Field), Is.EqualTo(new[] { field }));
            Assert.That(created.Errors[0].Message, Does.Contain(message));
        }
    }

    [Test]
    public void Every_problem_is_reported_at_once()
    {
        var created = Create(TargetType.Group, null, 150, name: "", model: "");

        Assert.That(
            created.Errors.Select(e => e.Field),
            Is.EqualTo(new[] { "name", "device_model", "target_filter.groups", "rollout_percentage" }));
    }

    [Test]
    public void Many_invalid_device_ids_are_reported_five_by_name_and_the_rest_by_count()
    {
        var filter = new TargetFilter(Ids(3).Concat(Enumerable.Range(1, 8).Select(i => $"bad id {i}")));

        var errors = Create(TargetType.Specific, filter).Errors;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors, Has.Count.EqualTo(6));
            Assert.That(errors.Take(5).Select(e => e.Message), Is.All.Contains("device id 'bad id "));
            Assert.That(errors[5].Message, Is.EqualTo("… and 3 more invalid device ids"));
            Assert.That(errors.Select(e => e.Field), Is.All.EqualTo("target_filter.device_ids"));
        }
    }

    [Test]
    public void A_specific_rollout_may_list_exactly_10000_devices()
    {
        var created = Create(TargetType.Specific, new TargetFilter(Ids(10_000)));

        Assert.That(created.Errors, Is.Empty);
    }

    [Test]
    public void A_specific_rollout_targets_every_listed_device_whatever_its_percentage()
    {
        var rollout = NewRollout(type: TargetType.Specific, percentage: 0, filter: TargetFilter.ForDevices("esp32_001", "esp32_002"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Targets("esp32_001", NoGroups), Is.True);
            Assert.That(rollout.Targets("esp32_002", ["env:lab"]), Is.True);
            Assert.That(rollout.Targets("esp32_003", NoGroups), Is.False);
            Assert.That(rollout.Targets("ESP32_001", NoGroups), Is.False, "device ids compare ordinally");
        }
    }

    [Test]
    public void A_group_rollout_matches_a_device_in_any_of_its_groups()
    {
        var rollout = NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("location:warehouse", "function:sensor"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Targets("d1", ["location:warehouse"]), Is.True);
            Assert.That(rollout.Targets("d2", ["env:prod", "function:sensor"]), Is.True);
            Assert.That(rollout.Targets("d3", new HashSet<string> { "function:sensor" }), Is.True);
            Assert.That(rollout.Targets("d4", ["location:office"]), Is.False);
            Assert.That(rollout.Targets("d5", ["Location:Warehouse"]), Is.False, "groups compare ordinally");
        }
    }

    [Test]
    public void A_device_without_groups_never_matches_a_group_rollout()
    {
        var rollout = NewRollout(type: TargetType.Group, percentage: 100, filter: TargetFilter.ForGroups("location:warehouse"));

        Assert.That(Ids(1_000).Where(id => rollout.Targets(id, NoGroups)), Is.Empty);
    }

    [Test]
    public void A_group_rollout_reaches_only_its_percentage_of_the_group()
    {
        var rollout = NewRollout(name: "v1.2.0-warehouse-phase1", type: TargetType.Group, percentage: 25, filter: TargetFilter.ForGroups("location:warehouse"));
        string[] warehouse = ["location:warehouse"];
        var ids = Ids(20_000).ToList();

        var reached = ids.Where(id => rollout.Targets(id, warehouse)).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reached.Count * 100.0 / ids.Count, Is.EqualTo(25).Within(1.0));
            Assert.That(reached, Is.EqualTo(ids.Where(id => PercentageBucket.Includes(rollout.Name, id, 25))));
        }
    }

    [TestCase(TargetType.Canary)]
    [TestCase(TargetType.All)]
    public void Canary_and_all_rollouts_reach_the_devices_inside_their_percentage(TargetType type)
    {
        var rollout = NewRollout(type: type, percentage: 10);
        var ids = Ids(10_000).ToList();

        Assert.That(
            ids.Where(id => rollout.Targets(id, NoGroups)).ToList(),
            Is.EqualTo(ids.Where(id => PercentageBucket.Includes(rollout.Name, id, 10))).And.Count.InRange(900, 1100));
    }

    [Test]
    public void Canary_raised_from_10_to_25_keeps_every_device_of_the_10()
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 10);
        var ids = Ids(20_000).ToList();
        var at10 = ids.Where(id => rollout.Targets(id, NoGroups)).ToList();

        rollout.RaiseTo(25);
        var at25 = ids.Where(id => rollout.Targets(id, NoGroups)).ToHashSet();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Percentage, Is.EqualTo(25));
            Assert.That(at10.Where(id => !at25.Contains(id)), Is.Empty);
            Assert.That(at25, Has.Count.GreaterThan(at10.Count * 2));
        }
    }

    [Test]
    public void Lowering_a_rollout_removes_devices_from_the_top_buckets_only()
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 50);
        var ids = Ids(10_000).ToList();
        var at50 = ids.Where(id => rollout.Targets(id, NoGroups)).ToHashSet();

        rollout.LowerTo(5);
        var at5 = ids.Where(id => rollout.Targets(id, NoGroups)).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Percentage, Is.EqualTo(5));
            Assert.That(at5.All(at50.Contains), Is.True);
            Assert.That(at5, Has.Count.InRange(400, 600));
        }
    }

    [Test]
    public void Raising_below_or_lowering_above_the_current_percentage_is_refused()
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 25);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => rollout.RaiseTo(10), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("cannot raise"));
            Assert.That(() => rollout.LowerTo(50), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("cannot lower"));
            Assert.That(rollout.Percentage, Is.EqualTo(25));
        }
    }

    [TestCase(-1)]
    [TestCase(101)]
    public void Percentages_outside_0_to_100_are_refused_by_every_change(int percentage)
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 50);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => rollout.ChangePercentage(percentage), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => rollout.RaiseTo(percentage), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => rollout.LowerTo(percentage), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(rollout.Percentage, Is.EqualTo(50));
        }
    }

    [Test]
    public void Change_percentage_moves_either_way()
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 50);

        rollout.ChangePercentage(0);
        var atZero = rollout.Percentage;
        rollout.ChangePercentage(100);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(atZero, Is.Zero);
            Assert.That(rollout.Percentage, Is.EqualTo(100));
        }
    }

    [Test]
    public void Pausing_makes_the_rollout_inactive_with_the_reason()
    {
        var rollout = NewRollout();

        rollout.Pause("waiting for QA");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.IsActive, Is.False);
            Assert.That(rollout.IsHalted, Is.False);
            Assert.That(rollout.PauseReason, Is.EqualTo("waiting for QA"));
        }
    }

    [Test]
    public void Halting_makes_the_rollout_inactive_and_halted_once()
    {
        var rollout = NewRollout();

        var first = rollout.Halt("halted: 3 of 40 attempts failed");
        var second = rollout.Halt("halted: 4 of 41 attempts failed");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.True);
            Assert.That(second, Is.False);
            Assert.That(rollout.IsActive, Is.False);
            Assert.That(rollout.IsHalted, Is.True);
            Assert.That(rollout.PauseReason, Is.EqualTo("halted: 3 of 40 attempts failed"));
        }
    }

    [Test]
    public void Pausing_a_halted_rollout_keeps_it_halted_with_the_halt_reason()
    {
        var rollout = NewRollout();
        rollout.Halt("too many failures");

        rollout.Pause("operator looked");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.IsHalted, Is.True);
            Assert.That(rollout.PauseReason, Is.EqualTo("too many failures"));
        }
    }

    [Test]
    public void Halting_a_paused_rollout_marks_it_halted()
    {
        var rollout = NewRollout();
        rollout.Pause("lunch");

        Assert.That(rollout.Halt("too many failures"), Is.True);
        Assert.That(rollout.PauseReason, Is.EqualTo("too many failures"));
    }

    [Test]
    public void Resuming_clears_both_pause_and_halt()
    {
        var paused = NewRollout();
        paused.Pause("lunch");
        var halted = NewRollout();
        halted.Halt("too many failures");

        paused.Resume();
        halted.Resume();

        using (Assert.EnterMultipleScope())
        {
            foreach (var rollout in new[] { paused, halted })
            {
                Assert.That(rollout.IsActive, Is.True);
                Assert.That(rollout.IsHalted, Is.False);
                Assert.That(rollout.PauseReason, Is.Null);
            }
        }
    }

    [TestCase("")]
    [TestCase("  ")]
    public void Pausing_or_halting_needs_a_reason(string reason)
    {
        var rollout = NewRollout();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => rollout.Pause(reason), Throws.InstanceOf<ArgumentException>());
            Assert.That(() => rollout.Halt(reason), Throws.InstanceOf<ArgumentException>());
            Assert.That(rollout.IsActive, Is.True);
        }
    }

    [Test]
    public void A_rollout_created_inactive_is_inactive_without_a_reason()
    {
        var rollout = NewRollout(isActive: false);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.IsActive, Is.False);
            Assert.That(rollout.IsHalted, Is.False);
            Assert.That(rollout.PauseReason, Is.Null);
        }
    }

    [Test]
    public void A_rollout_is_active_paused_or_halted_and_nothing_else()
    {
        var active = NewRollout();
        var createdInactive = NewRollout(isActive: false);
        var paused = NewRollout();
        paused.Pause("lunch");
        var halted = NewRollout();
        halted.Halt("too many failures");
        var haltedThenPaused = NewRollout();
        haltedThenPaused.Halt("too many failures");
        haltedThenPaused.Pause("operator looked");
        var resumed = NewRollout();
        resumed.Halt("too many failures");
        resumed.Resume();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(active.State, Is.EqualTo(RolloutState.Active));
            Assert.That(createdInactive.State, Is.EqualTo(RolloutState.Paused));
            Assert.That(paused.State, Is.EqualTo(RolloutState.Paused));
            Assert.That(halted.State, Is.EqualTo(RolloutState.Halted));
            Assert.That(haltedThenPaused.State, Is.EqualTo(RolloutState.Halted));
            Assert.That(resumed.State, Is.EqualTo(RolloutState.Active));
            Assert.That(Enum.GetValues<RolloutState>().Select(s => s.ToWire()), Is.EqualTo(new[] { "active", "paused", "halted" }));
        }
    }

    [Test]
    public void Changing_the_filter_retargets_a_specific_rollout()
    {
        var rollout = NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"));

        rollout.ChangeFilter(TargetFilter.ForDevices("esp32_002"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Targets("esp32_001", NoGroups), Is.False);
            Assert.That(rollout.Targets("esp32_002", NoGroups), Is.True);
        }
    }

    [Test]
    public void A_filter_that_does_not_suit_the_target_type_is_refused_and_the_old_one_kept()
    {
        var rollout = NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("env:lab"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => rollout.ChangeFilter(TargetFilter.None), Throws.ArgumentException.With.Message.Contains("target_filter.groups"));
            Assert.That(() => rollout.ChangeFilter(TargetFilter.ForDevices("esp32_001")), Throws.ArgumentException);
            Assert.That(rollout.Filter.Groups, Is.EquivalentTo(new[] { "env:lab" }));
        }
    }

    [Test]
    public void Validate_filter_reports_what_change_filter_would_refuse()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Rollout.ValidateFilter(TargetType.Group, TargetFilter.ForGroups("env:lab")), Is.Empty);
            Assert.That(Rollout.ValidateFilter(TargetType.Group, TargetFilter.None).Select(e => e.Field), Is.EqualTo(new[] { "target_filter.groups" }));
            Assert.That(Rollout.ValidatePercentage(100), Is.Null);
            Assert.That(Rollout.ValidatePercentage(101)?.Field, Is.EqualTo("rollout_percentage"));
        }
    }

    [Test]
    public void Changing_the_threshold_replaces_it()
    {
        var rollout = NewRollout();

        rollout.ChangeThreshold(new FailureThreshold(2.5m, 50));

        Assert.That(rollout.Threshold, Is.EqualTo(new FailureThreshold(2.5m, 50)));
    }

    [Test]
    public void Restore_loads_a_rollout_that_current_input_rules_would_refuse()
    {
        var rollout = Rollout.Restore(
            "legacy rollout with spaces", "esp32", V("1.0.0"), TargetType.Specific, new TargetFilter(Ids(12_000)),
            percentage: 100, isActive: false, allowDowngrade: true, new FailureThreshold(10m, 5),
            pauseReason: "paused by ops", isHalted: false);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.Name, Is.EqualTo("legacy rollout with spaces"));
            Assert.That(rollout.Filter.DeviceIds, Has.Count.EqualTo(12_000));
            Assert.That(rollout.IsActive, Is.False);
            Assert.That(rollout.PauseReason, Is.EqualTo("paused by ops"));
            Assert.That(rollout.AllowDowngrade, Is.True);
            Assert.That(rollout.Threshold.MinimumAttempts, Is.EqualTo(5));
        }
    }

    [Test]
    public void Restore_keeps_a_halt_of_an_inactive_rollout()
    {
        var rollout = Rollout.Restore(
            "r", "esp32", V("1.0.0"), TargetType.All, TargetFilter.None, 100, isActive: false, allowDowngrade: false,
            FailureThreshold.Default, pauseReason: "halted: 3 of 40", isHalted: true);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.IsHalted, Is.True);
            Assert.That(rollout.PauseReason, Is.EqualTo("halted: 3 of 40"));
        }
    }

    [Test]
    public void Restore_treats_a_row_reactivated_in_sql_as_simply_active()
    {
        var rollout = Rollout.Restore(
            "r", "esp32", V("1.0.0"), TargetType.All, TargetFilter.None, 100, isActive: true, allowDowngrade: false,
            FailureThreshold.Default, pauseReason: "halted: 3 of 40", isHalted: true);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollout.IsActive, Is.True);
            Assert.That(rollout.IsHalted, Is.False);
            Assert.That(rollout.PauseReason, Is.Null);
        }
    }

    [Test]
    public void Restore_still_refuses_an_impossible_percentage()
    {
        Assert.That(
            () => Rollout.Restore("r", "esp32", V("1.0.0"), TargetType.All, TargetFilter.None, 250, true, false, FailureThreshold.Default, null, false),
            Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    [Test]
    public void A_target_filter_collapses_duplicates_and_refuses_null()
    {
        var filter = new TargetFilter(["a", "a", "b"], ["g", "g"]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(filter.DeviceIds, Is.EquivalentTo(new[] { "a", "b" }));
            Assert.That(filter.Groups, Is.EquivalentTo(new[] { "g" }));
            Assert.That(() => new TargetFilter([null!]), Throws.ArgumentException);
        }
    }
}

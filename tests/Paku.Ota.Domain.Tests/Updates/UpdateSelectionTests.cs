using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;
using static Paku.Ota.Domain.Tests.Make;

namespace Paku.Ota.Domain.Tests.Updates;

public sealed class UpdateSelectionTests
{
    private static CandidateExplanation ExplainOne(DeviceSnapshot device, RolloutCandidate candidate)
    {
        var explanation = UpdateSelection.Explain(device, [candidate]);
        Assert.That(explanation.Candidates, Has.Count.EqualTo(1));
        return explanation.Candidates[0];
    }

    private static Rollout Paused(string reason)
    {
        var rollout = NewRollout(name: "paused");
        rollout.Pause(reason);
        return rollout;
    }

    private static Rollout Halted(string reason)
    {
        var rollout = NewRollout(name: "halted");
        rollout.Halt(reason);
        return rollout;
    }

    /// <summary>One rule each: device, candidate, expected verdict, words the sentence must contain.</summary>
    private static IEnumerable<TestCaseData> Rules()
    {
        TestCaseData Case(string name, DeviceSnapshot device, RolloutCandidate candidate, SelectionVerdict verdict, string words) =>
            new TestCaseData(device, candidate, verdict, words).SetName(name);

        yield return Case("A rollout for the device's model offers its newer version",
            Device(version: "1.0.0"), Candidate(NewRollout(name: "v1.2.0-all")), SelectionVerdict.Offered, "rollout v1.2.0-all offers 1.2.0");
        yield return Case("A rollout for another model is not offered",
            Device(model: "esp32"), Candidate(NewRollout(model: "esp32-s3")), SelectionVerdict.OtherModel, "is for model esp32-s3");
        yield return Case("A paused rollout is not offered and says why",
            Device(), Candidate(Paused("waiting for QA")), SelectionVerdict.Inactive, "rollout paused is paused: waiting for QA");
        yield return Case("A halted rollout is not offered and says why",
            Device(), Candidate(Halted("3 of 40 failed")), SelectionVerdict.Inactive, "rollout halted is halted: 3 of 40 failed");
        yield return Case("A rollout created inactive is not offered",
            Device(), Candidate(NewRollout(isActive: false)), SelectionVerdict.Inactive, "is paused");
        yield return Case("A withdrawn release is never offered",
            Device(), Candidate(NewRollout(), withdrawn: true), SelectionVerdict.ReleaseWithdrawn, "withdrawn");
        yield return Case("A specific rollout does not reach an unlisted device",
            Device(id: "esp32_009"),
            Candidate(NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"))),
            SelectionVerdict.NotListed, "does not list esp32_009");
        yield return Case("A specific rollout reaches a listed device",
            Device(id: "esp32_001"),
            Candidate(NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"))),
            SelectionVerdict.Offered, "offers 1.2.0");
        yield return Case("A group rollout does not reach a device without groups",
            Device(),
            Candidate(NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("location:warehouse"))),
            SelectionVerdict.NoGroups, "targets groups location:warehouse and the device belongs to no group");
        yield return Case("A group rollout does not reach a device in other groups",
            Device(groups: ["location:office", "env:prod"]),
            Candidate(NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("location:warehouse"))),
            SelectionVerdict.NotInGroup, "the device is only in env:prod, location:office");
        yield return Case("A group rollout reaches a device in one of its groups",
            Device(groups: ["location:office", "function:sensor"]),
            Candidate(NewRollout(type: TargetType.Group, filter: TargetFilter.ForGroups("location:warehouse", "function:sensor"))),
            SelectionVerdict.Offered, "offers 1.2.0");
        yield return Case("A rollout at 0 percent reaches nobody",
            Device(), Candidate(NewRollout(type: TargetType.Canary, percentage: 0)),
            SelectionVerdict.OutsidePercentage, "reaches 0 % of devices");
        yield return Case("A device already on the version is not offered it again",
            Device(version: "1.2.0"), Candidate(NewRollout(version: "1.2.0")), SelectionVerdict.AlreadyOnVersion, "already runs");
        yield return Case("Build metadata does not make the running version different",
            Device(version: "1.2.0+ci.7"), Candidate(NewRollout(version: "1.2.0+ci.8")), SelectionVerdict.AlreadyOnVersion, "already runs");
        yield return Case("A downgrade rollout never re-offers the running version",
            Device(version: "1.2.0"), Candidate(NewRollout(version: "1.2.0", allowDowngrade: true)), SelectionVerdict.AlreadyOnVersion, "already runs");
        yield return Case("An older version is not offered without allow downgrade",
            Device(version: "1.3.0"), Candidate(NewRollout(version: "1.2.0")), SelectionVerdict.NotNewer,
            "offers 1.2.0, older than the device's 1.3.0, and does not allow downgrades");
        yield return Case("An older version is offered when the rollout allows downgrades",
            Device(version: "1.3.0"), Candidate(NewRollout(version: "1.2.0", allowDowngrade: true)), SelectionVerdict.Offered, "offers 1.2.0");
        yield return Case("A release is newer than its own pre-release",
            Device(version: "1.2.0-rc.1"), Candidate(NewRollout(version: "1.2.0")), SelectionVerdict.Offered, "offers 1.2.0");
        yield return Case("A pre-release is older than the release it precedes",
            Device(version: "1.2.0"), Candidate(NewRollout(version: "1.2.0-rc.2")), SelectionVerdict.NotNewer, "older");
        yield return Case("Versions compare as numbers, not text",
            Device(version: "1.9.0"), Candidate(NewRollout(version: "1.10.0")), SelectionVerdict.Offered, "offers 1.10.0");
        yield return Case("A device below the release's minimum version is not offered it",
            Device(version: "1.0.0"), Candidate(NewRollout(version: "2.0.0"), minVersion: "1.1.0"), SelectionVerdict.BelowMinVersion,
            "offers 2.0.0, which needs at least 1.1.0; the device runs 1.0.0");
        yield return Case("A device exactly at the minimum version is offered the release",
            Device(version: "1.1.0"), Candidate(NewRollout(version: "2.0.0"), minVersion: "1.1.0"), SelectionVerdict.Offered, "offers 2.0.0");
        yield return Case("The minimum version holds for downgrades too",
            Device(version: "1.0.0-rc.1"), Candidate(NewRollout(version: "0.9.0", allowDowngrade: true), minVersion: "1.0.0"),
            SelectionVerdict.BelowMinVersion, "needs at least 1.0.0");
        yield return Case("The model is judged before activity",
            Device(model: "esp32"), Candidate(NewRollout(model: "esp8266", isActive: false)),
            SelectionVerdict.OtherModel, "esp8266");
        yield return Case("Activity is judged before the release and the targeting",
            Device(id: "esp32_009"),
            Candidate(NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"), isActive: false), withdrawn: true),
            SelectionVerdict.Inactive, "is paused");
        yield return Case("Targeting is judged before versions",
            Device(id: "esp32_009", version: "1.2.0"),
            Candidate(NewRollout(type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"))),
            SelectionVerdict.NotListed, "does not list");
    }

    [TestCaseSource(nameof(Rules))]
    public void Each_rule_gives_its_verdict(DeviceSnapshot device, RolloutCandidate candidate, SelectionVerdict verdict, string words)
    {
        var explained = ExplainOne(device, candidate);
        var selected = UpdateSelection.Select(device, [candidate]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(explained.Verdict, Is.EqualTo(verdict));
            Assert.That(explained.Sentence, Does.Contain(words));
            Assert.That(selected, verdict == SelectionVerdict.Offered ? Is.SameAs(candidate) : Is.Null);
        }
    }

    [Test]
    public void The_offered_sentence_names_the_rollout_and_the_version()
    {
        var explained = ExplainOne(Device(), Candidate(NewRollout(name: "v1.2.0-production")));

        Assert.That(explained.Sentence, Is.EqualTo("rollout v1.2.0-production offers 1.2.0"));
    }

    [Test]
    public void An_inactive_verdict_carries_the_pause_reason()
    {
        var explained = ExplainOne(Device(), Candidate(Halted("halted: 3 of 40 attempts failed")));

        Assert.That(explained.PauseReason, Is.EqualTo("halted: 3 of 40 attempts failed"));
    }

    private static RolloutCandidate Rollback(string version = "1.1.0", params string[] devices) =>
        Candidate(NewRollout(name: "v1.2.0-rollback", version: version, type: TargetType.Specific,
            filter: TargetFilter.ForDevices(devices.Length == 0 ? ["esp32_001"] : devices), allowDowngrade: true));

    [Test]
    public void A_device_a_rollback_took_back_is_not_offered_the_bad_release_again()
    {
        var canary = Candidate(NewRollout(name: "v1.2.0-canary", version: "1.2.0", type: TargetType.Canary));
        var rollback = Rollback();
        var device = Device(version: "1.1.0");

        var selected = UpdateSelection.Select(device, [canary, rollback]);
        var explanation = UpdateSelection.Explain(device, [canary, rollback]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(selected, Is.Null);
            Assert.That(explanation.Candidates[0].Verdict, Is.EqualTo(SelectionVerdict.HeldByRollback));
            Assert.That(explanation.Candidates[0].HeldBy, Is.SameAs(rollback));
            Assert.That(explanation.Candidates[0].Sentence, Does.Contain("rollback rollout v1.2.0-rollback targets the device"));
            Assert.That(explanation.Candidates[1].Verdict, Is.EqualTo(SelectionVerdict.AlreadyOnVersion));
            Assert.That(explanation.Summary, Is.EqualTo("no update: rollback rollout v1.2.0-rollback targets the device, so no other rollout is offered to it"));
        }
    }

    [Test]
    public void A_rollback_rollout_holds_only_the_devices_it_targets_and_only_while_active()
    {
        var canary = Candidate(NewRollout(name: "v1.2.0-canary", version: "1.2.0", type: TargetType.Canary));
        var rollback = Rollback();
        var paused = Rollback();
        paused.Rollout.Pause("done");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(UpdateSelection.Select(Device(id: "esp32_002", version: "1.1.0"), [canary, rollback]), Is.SameAs(canary));
            Assert.That(UpdateSelection.Select(Device(version: "1.1.0"), [canary, paused]), Is.SameAs(canary));
            Assert.That(UpdateSelection.Select(Device(version: "1.2.0"), [canary, rollback]), Is.SameAs(rollback), "it still takes the device back");
        }
    }

    [Test]
    public void An_outside_percentage_verdict_carries_the_bucket_and_the_percentage()
    {
        var rollout = NewRollout(name: "v1.0.0-canary", type: TargetType.Canary, percentage: 10);
        // esp32_002 is in bucket 8227 of v1.0.0-canary (pinned in PercentageBucketTests).
        var explained = ExplainOne(Device(id: "esp32_002"), Candidate(rollout));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(explained.Verdict, Is.EqualTo(SelectionVerdict.OutsidePercentage));
            Assert.That(explained.Bucket, Is.EqualTo(8227));
            Assert.That(explained.Percentage, Is.EqualTo(10));
            Assert.That(explained.Sentence, Does.Contain("reaches 10 % of devices (buckets below 1000) and the device is in bucket 8227 of 10000"));
        }
    }

    [Test]
    public void A_device_inside_the_percentage_is_offered_and_its_bucket_shown()
    {
        var rollout = NewRollout(name: "v1.0.0-canary", type: TargetType.Canary, percentage: 40);
        // esp32_001 is in bucket 3869 of v1.0.0-canary.
        var explained = ExplainOne(Device(id: "esp32_001"), Candidate(rollout));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(explained.Verdict, Is.EqualTo(SelectionVerdict.Offered));
            Assert.That(explained.Bucket, Is.EqualTo(3869));
        }
    }

    private static IEnumerable<TestCaseData> Rankings()
    {
        var specific = Candidate(NewRollout(name: "specific", version: "1.1.0", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001")));
        var group = Candidate(NewRollout(name: "group", version: "1.2.0", type: TargetType.Group, filter: TargetFilter.ForGroups("env:lab")));
        var canary = Candidate(NewRollout(name: "canary", version: "1.3.0", type: TargetType.Canary));
        var all = Candidate(NewRollout(name: "all", version: "1.4.0", type: TargetType.All));
        var allOlder = Candidate(NewRollout(name: "all-older", version: "1.3.5", type: TargetType.All));
        var sameA = Candidate(NewRollout(name: "a-rollout", version: "1.5.0"));
        var sameB = Candidate(NewRollout(name: "b-rollout", version: "1.5.0"));
        var groupNewer = Candidate(NewRollout(name: "group-newer", version: "1.2.1", type: TargetType.Group, filter: TargetFilter.ForGroups("env:lab")));
        var pausedSpecific = NewRollout(name: "paused-specific", version: "1.1.0", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"));
        pausedSpecific.Pause("hold");
        var specificOld = Candidate(NewRollout(name: "specific-old", version: "0.9.0", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001")));
        var specificDowngrade = Candidate(NewRollout(name: "specific-down", version: "0.9.0", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001"), allowDowngrade: true));

        TestCaseData Case(string name, RolloutCandidate expected, params RolloutCandidate[] candidates) =>
            new TestCaseData(candidates, expected).SetName(name);

        yield return Case("Specific beats group canary and all even with a lower version", specific, all, canary, group, specific);
        yield return Case("Group beats canary and all even with a lower version", group, canary, all, group);
        yield return Case("Between canary and all the higher version wins", all, canary, all);
        yield return Case("Between two all rollouts the higher version wins", all, allOlder, all);
        yield return Case("Between two group rollouts the higher version wins", groupNewer, group, groupNewer);
        yield return Case("With equal targeting and version the name sorting first wins", sameA, sameB, sameA);
        yield return Case("The name tie-break does not depend on the order of candidates", sameA, sameA, sameB);
        yield return Case("A paused specific rollout leaves the field to the group", group, Candidate(pausedSpecific), group, canary);
        yield return Case("A specific rollout offering an older version leaves the field to the canary", canary, specificOld, canary);
        yield return Case("A specific downgrade beats a newer canary", specificDowngrade, specificDowngrade, canary);
    }

    [TestCaseSource(nameof(Rankings))]
    public void The_most_specific_then_highest_then_first_named_candidate_wins(RolloutCandidate[] candidates, RolloutCandidate expected)
    {
        var device = Device(id: "esp32_001", version: "1.0.0", groups: ["env:lab"]);

        var selected = UpdateSelection.Select(device, candidates);
        var explanation = UpdateSelection.Explain(device, candidates);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(selected, Is.SameAs(expected));
            Assert.That(explanation.Chosen, Is.SameAs(expected));
            Assert.That(explanation.Summary, Is.EqualTo($"rollout {expected.Rollout.Name} offers {expected.Rollout.Version}"));
        }
    }

    [Test]
    public void Eligible_losers_are_explained_as_outranked_by_the_winner()
    {
        var device = Device(id: "esp32_001", groups: ["env:lab"]);
        var specific = Candidate(NewRollout(name: "lab-devices", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_001")));
        var canary = Candidate(NewRollout(name: "fleet", version: "1.3.0", type: TargetType.Canary));
        var sameA = Candidate(NewRollout(name: "a", version: "1.4.0"));
        var sameB = Candidate(NewRollout(name: "b", version: "1.4.0"));
        var older = Candidate(NewRollout(name: "c", version: "1.3.0"));

        var first = UpdateSelection.Explain(device, [canary, specific]);
        var byName = UpdateSelection.Explain(device, [sameB, sameA]);
        var byVersion = UpdateSelection.Explain(device, [older, sameA]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first.Candidates.Select(c => c.Verdict), Is.EqualTo(new[] { SelectionVerdict.Outranked, SelectionVerdict.Offered }));
            Assert.That(first.Candidates[0].OutrankedBy, Is.SameAs(specific));
            Assert.That(first.Candidates[0].Sentence, Is.EqualTo(
                "rollout fleet would offer 1.3.0, but rollout lab-devices wins: its specific targeting is more specific than canary"));
            Assert.That(byName.Candidates[0].Sentence, Does.EndWith("rollout a wins: same targeting and version, and its name sorts first"));
            Assert.That(byVersion.Candidates[0].Sentence, Does.EndWith("rollout a wins: it offers the higher version 1.4.0"));
        }
    }

    [Test]
    public void No_candidate_means_no_update()
    {
        var explanation = UpdateSelection.Explain(Device(), []);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(UpdateSelection.Select(Device(), []), Is.Null);
            Assert.That(explanation.Chosen, Is.Null);
            Assert.That(explanation.Candidates, Is.Empty);
            Assert.That(explanation.Summary, Does.StartWith("no update"));
        }
    }

    [Test]
    public void Nothing_eligible_means_no_update_with_every_candidate_explained()
    {
        var candidates = new[] { Candidate(NewRollout(model: "esp8266")), Candidate(Paused("hold")), Candidate(NewRollout(version: "1.0.0")) };

        var explanation = UpdateSelection.Explain(Device(version: "1.0.0"), candidates);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(explanation.Chosen, Is.Null);
            Assert.That(
                explanation.Candidates.Select(c => c.Verdict),
                Is.EqualTo(new[] { SelectionVerdict.OtherModel, SelectionVerdict.Inactive, SelectionVerdict.AlreadyOnVersion }));
            Assert.That(explanation.Summary, Is.EqualTo("no update: none of the 3 rollouts offers the device a version"));
        }
    }

    [Test]
    public void A_candidate_must_pair_a_rollout_with_its_own_release()
    {
        var rollout = NewRollout(version: "1.2.0", model: "esp32");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => new RolloutCandidate(rollout, new ReleaseInfo("esp32", V("1.3.0"), null, false)), Throws.ArgumentException);
            Assert.That(() => new RolloutCandidate(rollout, new ReleaseInfo("esp8266", V("1.2.0"), null, false)), Throws.ArgumentException);
            Assert.That(() => new RolloutCandidate(rollout, new ReleaseInfo("esp32", V("v1.2.0+ci.1"), null, false)), Throws.Nothing);
        }
    }

    [Test]
    public void Select_and_explain_agree_on_a_randomized_fleet()
    {
        var random = new Random(20250101);
        string[] versions = ["0.9.0", "1.0.0-rc.1", "1.0.0", "1.1.0", "1.2.0", "1.2.0+b", "2.0.0-beta.2", "2.0.0"];
        string[] models = ["esp32", "esp32-s3"];
        string[] groups = ["env:lab", "env:prod", "location:warehouse", "function:sensor"];
        string[] reasons = ["hold", "halted: 3 of 40"];
        var offered = 0;

        for (var round = 0; round < 2_000; round++)
        {
            var device = new DeviceSnapshot(
                $"esp32_{random.Next(50):D3}",
                models[random.Next(models.Length)],
                V(versions[random.Next(versions.Length)]),
                groups.Where(_ => random.Next(3) == 0).ToArray());

            var candidates = new List<RolloutCandidate>();
            for (var i = random.Next(7); i > 0; i--)
            {
                var type = (TargetType)random.Next(4);
                var filter = type switch
                {
                    TargetType.Specific => TargetFilter.ForDevices(Enumerable.Range(0, 1 + random.Next(20)).Select(_ => $"esp32_{random.Next(50):D3}")),
                    TargetType.Group => TargetFilter.ForGroups(groups.Where(_ => random.Next(2) == 0).DefaultIfEmpty("env:lab")),
                    _ => TargetFilter.None,
                };
                var rollout = NewRollout(
                    name: $"r{random.Next(5)}",
                    type: type,
                    percentage: random.Next(5) switch { 0 => 0, 1 => 100, _ => random.Next(101) },
                    version: versions[random.Next(versions.Length)],
                    model: models[random.Next(models.Length)],
                    filter: filter,
                    allowDowngrade: random.Next(4) == 0);
                switch (random.Next(6))
                {
                    case 0: rollout.Pause(reasons[0]); break;
                    case 1: rollout.Halt(reasons[1]); break;
                }

                var minVersion = random.Next(3) == 0 ? versions[random.Next(versions.Length)] : null;
                candidates.Add(Candidate(rollout, minVersion, withdrawn: random.Next(8) == 0));
            }

            var selected = UpdateSelection.Select(device, candidates);
            var explanation = UpdateSelection.Explain(device, candidates);
            var offers = explanation.Candidates.Where(c => c.Verdict == SelectionVerdict.Offered).ToList();
            offered += offers.Count;

            Assert.That(explanation.Chosen, Is.SameAs(selected), $"round {round}");
            Assert.That(offers.Select(c => c.Candidate), selected is null ? Is.Empty : Is.EqualTo(new[] { selected }), $"round {round}");
            foreach (var loser in explanation.Candidates.Where(c => c.Verdict == SelectionVerdict.Outranked))
            {
                Assert.That(loser.OutrankedBy, Is.SameAs(selected), $"round {round}");
                Assert.That(Rank(selected!), Is.GreaterThanOrEqualTo(Rank(loser.Candidate)), $"round {round}");
            }

            if (selected is not null)
            {
                Assert.That(selected.Rollout.DeviceModel, Is.EqualTo(device.Model));
                Assert.That(selected.Rollout.IsActive && !selected.Release.IsWithdrawn, Is.True);
                Assert.That(selected.Rollout.Targets(device.DeviceId, device.Groups), Is.True);
                Assert.That(selected.Rollout.Version, Is.Not.EqualTo(device.CurrentVersion));
                Assert.That(selected.Rollout.AllowDowngrade || selected.Rollout.Version > device.CurrentVersion, Is.True);
                Assert.That(selected.Release.MinVersion is null || device.CurrentVersion >= selected.Release.MinVersion, Is.True);
            }

            var holding = candidates.Any(c => c.Rollout.AllowDowngrade && c.Rollout.IsActive && !c.Release.IsWithdrawn
                && c.Rollout.DeviceModel == device.Model && c.Rollout.Targets(device.DeviceId, device.Groups));
            Assert.That(!holding || selected is null || selected.Rollout.AllowDowngrade, Is.True, $"round {round}: a rollback holds the device");
        }

        Assert.That(offered, Is.GreaterThan(200), "the random table should offer updates often enough to mean something");
    }

    private static (int, FirmwareVersion) Rank(RolloutCandidate candidate) =>
        (candidate.Rollout.TargetType switch { TargetType.Specific => 3, TargetType.Group => 2, _ => 1 }, candidate.Rollout.Version);

    [Test]
    public void Selecting_allocates_nothing()
    {
        var device = Device(id: "esp32_001", version: "1.0.0", groups: ["env:lab", "function:sensor"]);
        RolloutCandidate[] candidates =
        [
            Candidate(NewRollout(name: "other-model", model: "esp8266")),
            Candidate(Paused("hold")),
            Candidate(NewRollout(name: "canary", type: TargetType.Canary, percentage: 50, version: "1.3.0")),
            Candidate(NewRollout(name: "group", type: TargetType.Group, percentage: 30, filter: TargetFilter.ForGroups("env:prod", "function:sensor"))),
            Candidate(NewRollout(name: "specific", type: TargetType.Specific, filter: TargetFilter.ForDevices("esp32_002"))),
            Candidate(NewRollout(name: "pre", version: "2.0.0-rc.1"), minVersion: "0.9.0"),
        ];
        for (var i = 0; i < 1_000; i++)
        {
            UpdateSelection.Select(device, candidates);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        RolloutCandidate? chosen = null;
        for (var i = 0; i < 10_000; i++)
        {
            chosen = UpdateSelection.Select(device, candidates);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(chosen, Is.Not.Null);
            Assert.That(allocated, Is.Zero);
        }
    }
}

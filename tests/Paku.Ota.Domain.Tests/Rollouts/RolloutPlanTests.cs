using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using static Paku.Ota.Domain.Tests.Make;

namespace Paku.Ota.Domain.Tests.Rollouts;

/// <summary>Phased rollouts: the plan's rules and the advance / hold / halt decision, on a fake clock.</summary>
public sealed class RolloutPlanTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static RolloutPlan Plan(TargetType type = TargetType.Canary, params PhaseInput[] phases)
    {
        var (plan, errors) = RolloutPlan.Create(type, phases);
        return plan ?? throw new InvalidOperationException(string.Join("; ", errors));
    }

    private static PhaseInput P(int percentage, int? confirmed = null, decimal? maxFailure = null, int? soak = null) =>
        new(percentage, null, confirmed, maxFailure, soak);

    private static PhaseInput G(params string[] groups) => new(null, groups, null, null, null);

    private static RolloutPlan TenFiftyHundred => Plan(TargetType.Canary, P(10, confirmed: 3, maxFailure: 10, soak: 600), P(50, confirmed: 10), P(100));

    private static PhaseDecision Decide(RolloutPlan plan, RolloutCounts counts, TimeSpan elapsed, int index = 0, string? heldBy = null) =>
        plan.Decide(index, Start, heldBy, counts, FailureThreshold.Default, Start + elapsed);

    [Test]
    public void A_phase_advances_when_confirmed_boots_failure_rate_and_soak_all_pass()
    {
        var decision = Decide(TenFiftyHundred, new RolloutCounts(Attempts: 4, Failed: 0, RolledBack: 0, Confirmed: 3), TimeSpan.FromMinutes(10));

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Advance), decision.Reason);
        Assert.That(decision.Gates.Select(g => g.Met), Is.All.True);
        Assert.That(decision.Reason, Does.Contain("phase 1 of 3 (10 %)").And.Contain("phase 2 (50 %)"));
    }

    [Test]
    public void Too_few_confirmed_boots_hold_the_phase_and_say_how_many()
    {
        var decision = Decide(TenFiftyHundred, new RolloutCounts(4, 0, 0, Confirmed: 2), TimeSpan.FromHours(1));

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Hold));
        var gate = decision.Gates.Single(g => g.Gate == GateCheck.MinConfirmed);
        Assert.That((gate.Met, gate.Required, gate.Actual), Is.EqualTo((false, 3m, 2m)));
        Assert.That(decision.Reason, Does.Contain("2 confirmed boots of the 3 needed"));
    }

    [Test]
    public void The_soak_holds_the_phase_until_the_clock_passes_it_and_not_a_second_earlier()
    {
        var counts = new RolloutCounts(3, 0, 0, Confirmed: 3);

        var early = Decide(TenFiftyHundred, counts, TimeSpan.FromSeconds(599));
        var due = Decide(TenFiftyHundred, counts, TimeSpan.FromSeconds(600));

        Assert.That(early.Action, Is.EqualTo(PhaseAction.Hold));
        Assert.That(early.Gates.Single(g => g.Gate == GateCheck.MinSoakSeconds).Actual, Is.EqualTo(599m));
        Assert.That(early.Reason, Does.Contain("running for 9 min of the 10 min soak"));
        Assert.That(due.Action, Is.EqualTo(PhaseAction.Advance));
    }

    [Test]
    public void A_failure_rate_above_the_phase_maximum_halts_a_phase_that_is_due()
    {
        // 3 confirmed, soaked, but 2 failures in 6 attempts: 33 % against the phase's 10 %
        var decision = Decide(TenFiftyHundred, new RolloutCounts(6, 2, 0, Confirmed: 3), TimeSpan.FromHours(1));

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Halt));
        Assert.That(decision.Reason, Does.Contain("phase 1 of 3 (10 %)").And.Contain("failure gate").And.Contain("2 of 6").And.Contain("10 % maximum"));
        Assert.That(decision.Gates.Single(g => g.Gate == GateCheck.MaxFailurePercent).Actual, Is.EqualTo(33.33m));
    }

    [Test]
    public void A_failure_rate_above_the_maximum_halts_early_once_the_rollout_has_its_minimum_attempts()
    {
        var plan = Plan(TargetType.Canary, P(10, confirmed: 50, maxFailure: 10, soak: 3600), P(100));

        var tooEarly = plan.Decide(0, Start, null, new RolloutCounts(4, 2, 0), new FailureThreshold(50m, 5), Start);
        var judged = plan.Decide(0, Start, null, new RolloutCounts(5, 2, 0), new FailureThreshold(50m, 5), Start);

        Assert.That(tooEarly.Action, Is.EqualTo(PhaseAction.Hold), "4 attempts are fewer than the rollout's 5 and the phase is not due");
        Assert.That(judged.Action, Is.EqualTo(PhaseAction.Halt), "40 % is above the phase's 10 % though within the rollout's 50 %");
    }

    [Test]
    public void A_failure_rate_exactly_at_the_maximum_passes_the_gate()
    {
        var decision = Decide(TenFiftyHundred, new RolloutCounts(10, 1, 0, Confirmed: 9), TimeSpan.FromHours(1));

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Advance), decision.Reason);
    }

    [Test]
    public void Without_a_maximum_the_phase_uses_the_rollouts_failure_threshold()
    {
        var plan = Plan(TargetType.Canary, P(10, confirmed: 1), P(100));

        var within = plan.Decide(0, Start, null, new RolloutCounts(20, 1, 0, Confirmed: 19), FailureThreshold.Default, Start);
        var above = plan.Decide(0, Start, null, new RolloutCounts(20, 2, 0, Confirmed: 18), FailureThreshold.Default, Start);

        Assert.That(within.Action, Is.EqualTo(PhaseAction.Advance));
        Assert.That(above.Action, Is.EqualTo(PhaseAction.Halt));
        Assert.That(above.Gates.Single(g => g.Gate == GateCheck.MaxFailurePercent).Required, Is.EqualTo(5m));
    }

    [Test]
    public void Timed_out_and_rolled_back_attempts_count_against_the_failure_gate()
    {
        var decision = Decide(TenFiftyHundred, new RolloutCounts(6, 0, RolledBack: 1, TimedOut: 1, Confirmed: 4), TimeSpan.FromHours(1));

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Halt));
        Assert.That(decision.Reason, Does.Contain("timed out"));
    }

    [Test]
    public void A_held_phase_that_met_its_gates_stays_and_says_who_holds_it()
    {
        var decision = Decide(TenFiftyHundred, new RolloutCounts(3, 0, 0, Confirmed: 3), TimeSpan.FromHours(1), heldBy: "held by ops");

        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Hold));
        Assert.That(decision.Reason, Does.Contain("held by ops"));
    }

    [Test]
    public void The_last_phase_is_final_and_still_halts_on_its_failure_gate()
    {
        var plan = TenFiftyHundred;

        var healthy = plan.Decide(2, Start, null, new RolloutCounts(30, 0, 0, Confirmed: 30), FailureThreshold.Default, Start.AddDays(1));
        var failing = plan.Decide(2, Start, null, new RolloutCounts(30, 10, 0, Confirmed: 20), FailureThreshold.Default, Start.AddDays(1));

        Assert.That(healthy.Action, Is.EqualTo(PhaseAction.Final));
        Assert.That(failing.Action, Is.EqualTo(PhaseAction.Halt));
    }

    [Test]
    public void A_clock_behind_the_phase_start_counts_as_no_soak_yet()
    {
        var decision = TenFiftyHundred.Decide(0, Start, null, new RolloutCounts(3, 0, 0, Confirmed: 3), FailureThreshold.Default, Start.AddMinutes(-5));

        Assert.That(decision.Gates.Single(g => g.Gate == GateCheck.MinSoakSeconds).Actual, Is.Zero);
        Assert.That(decision.Action, Is.EqualTo(PhaseAction.Hold));
    }

    [TestCase(0, "phases[0].percentage")]
    [TestCase(101, "phases[0].percentage")]
    public void A_percentage_outside_1_to_100_is_refused_naming_the_phase(int percentage, string field)
    {
        var (plan, errors) = RolloutPlan.Create(TargetType.Canary, [P(percentage), P(100)]);

        Assert.That(plan, Is.Null);
        Assert.That(errors.Select(e => e.Field), Is.EqualTo(new[] { field }));
    }

    [Test]
    public void Percentages_must_rise_phase_by_phase()
    {
        var (_, errors) = RolloutPlan.Create(TargetType.Canary, [P(10), P(50), P(50)]);

        Assert.That(errors.Single().Field, Is.EqualTo("phases[2].percentage"));
        Assert.That(errors.Single().Message, Does.Contain("50 % is not above phase 2's 50 %"));
    }

    [Test]
    public void Every_bad_gate_is_named_by_its_phase_and_field()
    {
        var (_, errors) = RolloutPlan.Create(TargetType.Canary,
            [P(10), P(50), new PhaseInput(100, null, MinConfirmed: -1, MaxFailurePercent: 101m, MinSoakSeconds: -5)]);

        Assert.That(errors.Select(e => e.Field), Is.EquivalentTo(new[]
        {
            "phases[2].min_confirmed", "phases[2].max_failure_percent", "phases[2].min_soak_seconds",
        }));
    }

    [Test]
    public void A_plan_may_not_mix_percentages_and_groups_nor_give_both_in_one_phase()
    {
        var (_, mixed) = RolloutPlan.Create(TargetType.Group, [P(10), G("lab")]);
        var (_, both) = RolloutPlan.Create(TargetType.Group, [new PhaseInput(10, ["lab"], null, null, null)]);
        var (_, neither) = RolloutPlan.Create(TargetType.Group, [new PhaseInput(null, null, 1, null, null)]);

        Assert.That(mixed.Single().Field, Is.EqualTo("phases[1].groups"));
        Assert.That(both.Single().Field, Is.EqualTo("phases[0]"));
        Assert.That(neither.Single().Field, Is.EqualTo("phases[0]"));
    }

    [Test]
    public void Group_phases_need_a_group_rollout_and_new_valid_groups_in_each_phase()
    {
        var (_, notGroup) = RolloutPlan.Create(TargetType.All, [G("lab")]);
        var (_, repeated) = RolloutPlan.Create(TargetType.Group, [G("lab"), G("lab", "field")]);
        var (_, invalid) = RolloutPlan.Create(TargetType.Group, [G("lab"), G("bad group")]);

        Assert.That(notGroup.Single().Field, Is.EqualTo("phases[0].groups"));
        Assert.That(repeated.Single().Message, Does.Contain("'lab' is already reached"));
        Assert.That(invalid.Single().Field, Is.EqualTo("phases[1].groups"));
    }

    [Test]
    public void A_specific_rollout_an_empty_plan_and_too_many_phases_are_refused()
    {
        Assert.That(RolloutPlan.Create(TargetType.Specific, [P(100)]).Errors.Single().Field, Is.EqualTo("phases"));
        Assert.That(RolloutPlan.Create(TargetType.All, []).Errors.Single().Field, Is.EqualTo("phases"));
        Assert.That(RolloutPlan.Create(TargetType.All, [.. Enumerable.Range(1, 21).Select(i => P(i))]).Errors.Single().Field, Is.EqualTo("phases"));
    }

    [Test]
    public void A_phased_canary_starts_at_its_first_phase_and_refuses_another_percentage()
    {
        var refused = Rollout.Create("r", "esp32", V("1.2.0"), TargetType.Canary, null, 25, plan: TenFiftyHundred);
        var created = Rollout.Create("r", "esp32", V("1.2.0"), TargetType.Canary, null, 10, plan: TenFiftyHundred, phaseStartedAt: Start);

        Assert.That(refused.Errors.Single().Field, Is.EqualTo("rollout_percentage"));
        Assert.That(created.Rollout!.Percentage, Is.EqualTo(10));
        Assert.That(created.Rollout.Phasing, Is.EqualTo(new RolloutPhasing(created.Rollout.Phasing!.Plan, 0, Start, null)));
    }

    [Test]
    public void Advancing_keeps_every_device_of_the_earlier_phases_and_restarts_the_soak()
    {
        var rollout = Rollout.Create("v1.2.0-phased", "esp32", V("1.2.0"), TargetType.Canary, null, 10, plan: TenFiftyHundred, phaseStartedAt: Start).Rollout!;
        var devices = Enumerable.Range(0, 2000).Select(i => $"esp32_{i:D4}").ToList();
        var inPhase1 = devices.Where(d => rollout.Targets(d, [])).ToList();

        rollout.AdvancePhase(Start.AddHours(1));
        var inPhase2 = devices.Where(d => rollout.Targets(d, [])).ToList();

        Assert.That(rollout.Percentage, Is.EqualTo(50));
        Assert.That(rollout.Phasing!.Index, Is.EqualTo(1));
        Assert.That(rollout.Phasing.StartedAt, Is.EqualTo(Start.AddHours(1)));
        Assert.That(inPhase1, Is.Not.Empty);
        Assert.That(inPhase2, Is.SupersetOf(inPhase1));
        Assert.That(inPhase1.All(d => rollout.Phasing.Plan.PhaseReaching(rollout.Name, d, []) == 0), Is.True);
    }

    [Test]
    public void An_advance_never_narrows_a_rollout_widened_outside_its_plan()
    {
        var plan = Plan(TargetType.Canary, P(10), P(50), P(100));
        var rollout = Rollout.Restore("r", "esp32", V("1.2.0"), TargetType.Canary, TargetFilter.None, 70, true, false, FailureThreshold.Default,
            null, false, phasing: new RolloutPhasing(plan, 0, Start, null));
        var groups = Rollout.Restore("g", "esp32", V("1.2.0"), TargetType.Group, TargetFilter.ForGroups("lab", "extra"), 100, true, false, FailureThreshold.Default,
            null, false, phasing: new RolloutPhasing(Plan(TargetType.Group, G("lab"), G("field")), 0, Start, null));

        rollout.AdvancePhase(Start);
        groups.AdvancePhase(Start);

        Assert.That(rollout.Percentage, Is.EqualTo(70));
        Assert.That(groups.Filter.Groups, Is.EquivalentTo(new[] { "lab", "field", "extra" }));
    }

    [Test]
    public void A_group_plan_adds_its_groups_phase_by_phase()
    {
        var plan = Plan(TargetType.Group, G("lab"), G("beta", "staff"), G("field"));
        var rollout = Rollout.Create("g", "esp32", V("1.2.0"), TargetType.Group, null, 100, plan: plan, phaseStartedAt: Start).Rollout!;

        Assert.That(rollout.Filter.Groups, Is.EquivalentTo(new[] { "lab" }));
        rollout.AdvancePhase(Start);
        Assert.That(rollout.Filter.Groups, Is.EquivalentTo(new[] { "lab", "beta", "staff" }));
        Assert.That(rollout.Targets("esp32_001", ["lab"]), Is.True);
        Assert.That(plan.PhaseReaching("g", "esp32_001", ["field"]), Is.EqualTo(2));
        rollout.AdvancePhase(Start);
        Assert.That(() => rollout.AdvancePhase(Start), Throws.InvalidOperationException);
    }

    [Test]
    public void A_new_plan_enters_the_first_phase_that_keeps_every_device_reached_so_far()
    {
        var rollout = NewRollout(type: TargetType.Canary, percentage: 30);

        var tooSmall = rollout.ChangePlan(Plan(TargetType.Canary, P(10), P(20)), Start);
        var fits = rollout.ChangePlan(Plan(TargetType.Canary, P(10), P(50), P(100)), Start);

        Assert.That(tooSmall!.Field, Is.EqualTo("phases"));
        Assert.That(fits, Is.Null);
        Assert.That((rollout.Phasing!.Index, rollout.Percentage), Is.EqualTo((1, 50)));
        Assert.That(rollout.ManualTargetingProblem(percentage: true, filter: false)!.Field, Is.EqualTo("rollout_percentage"));
        rollout.ChangePlan(null, Start);
        Assert.That(rollout.ManualTargetingProblem(percentage: true, filter: false), Is.Null);
    }

    [Test]
    public void Explain_says_which_phase_reaches_the_device_and_that_it_waits_for_the_gates()
    {
        var rollout = Rollout.Create("v1.2.0-phased", "esp32", V("1.2.0"), TargetType.Canary, null, 10, plan: TenFiftyHundred, phaseStartedAt: Start).Rollout!;
        var later = Enumerable.Range(0, 500).Select(i => $"esp32_{i:D3}")
            .First(d => rollout.Phasing!.Plan.PhaseReaching(rollout.Name, d, []) == 1);
        var first = Enumerable.Range(0, 500).Select(i => $"esp32_{i:D3}")
            .First(d => rollout.Phasing!.Plan.PhaseReaching(rollout.Name, d, []) == 0);

        var waiting = UpdateSelection.Explain(Device(later), [Candidate(rollout)]).Candidates.Single();
        var offered = UpdateSelection.Explain(Device(first), [Candidate(rollout)]).Candidates.Single();

        Assert.That(waiting.Verdict, Is.EqualTo(SelectionVerdict.OutsidePercentage));
        Assert.That(waiting.DevicePhase, Is.EqualTo(1));
        Assert.That(waiting.Sentence, Does.Contain("phase 1 of 3 (10 %) runs").And.Contain("comes in at phase 2 (50 %)").And.Contain("gates"));
        Assert.That(offered.Verdict, Is.EqualTo(SelectionVerdict.Offered));
        Assert.That(offered.Sentence, Does.Contain("came in at phase 1 (10 %)"));
    }
}

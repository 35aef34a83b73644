using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using static Paku.Ota.Domain.Tests.Make;
using S = Paku.Ota.Domain.Updates.UpdateStatus;

namespace Paku.Ota.Domain.Tests.Updates;

public sealed class UpdateLifecycleTests
{
    private static UpdateAttempt At(S status, int progress = 0, string target = "1.2.0") => new(target, "1.0.0", status, progress);

    private static LifecycleDecision Report(UpdateAttempt? current, S status, int progress = 0, string version = "1.2.0", string? running = "1.0.0") =>
        UpdateLifecycle.OnReport(current, version, status, progress, running);

    [Test]
    public void A_first_report_starts_an_attempt_from_the_version_the_device_runs()
    {
        var decision = Report(null, S.Downloading, 0, version: "v1.2.0", running: "v1.0.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.Outcome, Is.EqualTo(LifecycleOutcome.Started));
            Assert.That(decision.StartsAttempt, Is.True);
            Assert.That(decision.CountsAsFailure, Is.False);
            Assert.That(decision.NewAttempt, Is.EqualTo(new UpdateAttempt("1.2.0", "1.0.0", S.Downloading, 0)));
        }
    }

    [Test]
    public void A_report_for_another_target_starts_a_new_attempt()
    {
        var decision = Report(At(S.Installing, 100, target: "1.2.0"), S.Downloading, 5, version: "1.3.0", running: "1.0.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.StartsAttempt, Is.True);
            Assert.That(decision.NewAttempt, Is.EqualTo(new UpdateAttempt("1.3.0", "1.0.0", S.Downloading, 5)));
            Assert.That(decision.Reason, Does.Contain("new target 1.3.0 replaces 1.2.0"));
        }
    }

    /// <summary>current status and progress, reported status and progress → outcome, resulting status and progress (null: unchanged).</summary>
    private static IEnumerable<TestCaseData> Reports()
    {
        TestCaseData Case(string name, S? current, int currentProgress, S reported, int progress, LifecycleOutcome outcome, S? status, int resultProgress = -1) =>
            new TestCaseData(current, currentProgress, reported, progress, outcome, status, resultProgress < 0 ? progress : resultProgress).SetName(name);

        yield return Case("Downloading then installing advances", S.Downloading, 100, S.Installing, 0, LifecycleOutcome.Advanced, S.Installing);
        yield return Case("Installing then success advances", S.Installing, 50, S.Success, 100, LifecycleOutcome.Advanced, S.Success);
        yield return Case("Downloading then success skips ahead", S.Downloading, 40, S.Success, 100, LifecycleOutcome.Advanced, S.Success);
        yield return Case("Success without any earlier report starts the attempt at success", null, 0, S.Success, 100, LifecycleOutcome.Started, S.Success);
        yield return Case("More download progress is recorded", S.Downloading, 30, S.Downloading, 60, LifecycleOutcome.Progressed, S.Downloading);
        yield return Case("Less download progress changes nothing", S.Downloading, 60, S.Downloading, 30, LifecycleOutcome.Repeated, null);
        yield return Case("The same status and progress again changes nothing", S.Installing, 100, S.Installing, 100, LifecycleOutcome.Repeated, null);
        yield return Case("Installing after success is stale", S.Success, 100, S.Installing, 100, LifecycleOutcome.Stale, null);
        yield return Case("Downloading after installing is stale", S.Installing, 10, S.Downloading, 100, LifecycleOutcome.Stale, null);
        yield return Case("Downloading after success is stale", S.Success, 100, S.Downloading, 0, LifecycleOutcome.Stale, null);
        yield return Case("Failed while downloading fails the attempt", S.Downloading, 40, S.Failed, 40, LifecycleOutcome.Failed, S.Failed);
        yield return Case("Failed while installing fails the attempt", S.Installing, 100, S.Failed, 100, LifecycleOutcome.Failed, S.Failed);
        yield return Case("Failed after success fails the attempt", S.Success, 100, S.Failed, 100, LifecycleOutcome.Failed, S.Failed);
        yield return Case("Failed as the first report starts a failed attempt", null, 0, S.Failed, 0, LifecycleOutcome.Started, S.Failed);
        yield return Case("Failed twice counts once", S.Failed, 40, S.Failed, 40, LifecycleOutcome.Repeated, null);
        yield return Case("Downloading after failed starts a retry", S.Failed, 40, S.Downloading, 0, LifecycleOutcome.Started, S.Downloading);
        yield return Case("Downloading after rolled back starts a retry", S.RolledBack, 100, S.Downloading, 0, LifecycleOutcome.Started, S.Downloading);
        yield return Case("Installing after failed is stale", S.Failed, 40, S.Installing, 0, LifecycleOutcome.Stale, null);
        yield return Case("Success after failed is stale", S.Failed, 40, S.Success, 100, LifecycleOutcome.Stale, null);
        yield return Case("Failed after rolled back is stale", S.RolledBack, 100, S.Failed, 0, LifecycleOutcome.Stale, null);
        yield return Case("Downloading after confirmed is stale", S.Confirmed, 100, S.Downloading, 0, LifecycleOutcome.Stale, null);
        yield return Case("Success after confirmed is stale", S.Confirmed, 100, S.Success, 100, LifecycleOutcome.Stale, null);
        yield return Case("Failed after confirmed is stale", S.Confirmed, 100, S.Failed, 0, LifecycleOutcome.Stale, null);
    }

    [TestCaseSource(nameof(Reports))]
    public void Reports_move_the_attempt_only_forward(S? current, int currentProgress, S reported, int progress, LifecycleOutcome outcome, S? status, int resultProgress)
    {
        var attempt = current is { } c ? At(c, currentProgress) : null;

        var decision = Report(attempt, reported, progress);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.Outcome, Is.EqualTo(outcome));
            Assert.That(decision.NewAttempt?.Status, Is.EqualTo(status));
            if (status is not null)
            {
                Assert.That(decision.NewAttempt!.Progress, Is.EqualTo(resultProgress));
                Assert.That(decision.NewAttempt.TargetVersion, Is.EqualTo("1.2.0"));
            }

            Assert.That(decision.StartsAttempt, Is.EqualTo(outcome == LifecycleOutcome.Started));
            Assert.That(decision.CountsAsFailure, Is.EqualTo(status == S.Failed));
            Assert.That(decision.Reason, Is.Not.Empty);
        }
    }

    [Test]
    public void A_retry_records_where_the_device_starts_from_this_time()
    {
        var failed = new UpdateAttempt("1.2.0", "1.0.0", S.Failed, 40);

        var decision = Report(failed, S.Downloading, 0, running: "1.1.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.NewAttempt, Is.EqualTo(new UpdateAttempt("1.2.0", "1.1.0", S.Downloading, 0)));
            Assert.That(decision.Reason, Does.Contain("retry"));
        }
    }

    [Test]
    public void A_stale_report_says_what_it_arrived_after()
    {
        var decision = Report(At(S.Success, 100), S.Installing, 100);

        Assert.That(decision.Reason, Is.EqualTo("'installing' for 1.2.0 arrived after 'success'"));
    }

    [Test]
    public void A_target_with_or_without_v_is_the_same_target()
    {
        var decision = Report(At(S.Downloading, 100, target: "1.2.0"), S.Installing, 0, version: "v1.2.0");

        Assert.That(decision.Outcome, Is.EqualTo(LifecycleOutcome.Advanced));
    }

    [Test]
    public void A_target_that_is_not_a_version_is_matched_as_sent()
    {
        var started = Report(null, S.Downloading, 0, version: "nightly-42");
        var advanced = Report(started.NewAttempt, S.Installing, 0, version: "nightly-42");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(started.NewAttempt!.TargetVersion, Is.EqualTo("nightly-42"));
            Assert.That(advanced.Outcome, Is.EqualTo(LifecycleOutcome.Advanced));
        }
    }

    [TestCase(S.Confirmed)]
    [TestCase(S.RolledBack)]
    public void A_device_cannot_report_what_only_the_server_concludes(S status) =>
        Assert.That(() => Report(null, status), Throws.ArgumentException.With.Message.Contains("cannot report"));

    [TestCase(-1)]
    [TestCase(101)]
    public void Progress_outside_0_to_100_is_refused(int progress) =>
        Assert.That(() => Report(null, S.Downloading, progress), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void An_attempt_cannot_be_given_impossible_progress_even_through_with()
    {
        var attempt = At(S.Downloading, 10);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => attempt with { Progress = 101 }, Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => new UpdateAttempt("", null, S.Downloading, 0), Throws.ArgumentException);
        }
    }

    /// <summary>current status, running version → outcome, resulting status (null: unchanged).</summary>
    private static IEnumerable<TestCaseData> CheckIns()
    {
        TestCaseData Case(string name, S? current, string running, LifecycleOutcome outcome, S? status) =>
            new TestCaseData(current, running, outcome, status).SetName(name);

        yield return Case("Running the target after success confirms", S.Success, "1.2.0", LifecycleOutcome.Confirmed, S.Confirmed);
        yield return Case("Running the target while installing confirms", S.Installing, "1.2.0", LifecycleOutcome.Confirmed, S.Confirmed);
        yield return Case("Running the target while downloading confirms", S.Downloading, "1.2.0", LifecycleOutcome.Confirmed, S.Confirmed);
        yield return Case("Running the target with other build metadata confirms", S.Success, "1.2.0+ci.9", LifecycleOutcome.Confirmed, S.Confirmed);
        yield return Case("Still on the old version after success is a rollback", S.Success, "1.0.0", LifecycleOutcome.RolledBack, S.RolledBack);
        yield return Case("On a third version after success is a rollback", S.Success, "1.1.0", LifecycleOutcome.RolledBack, S.RolledBack);
        yield return Case("On the old version while downloading changes nothing", S.Downloading, "1.0.0", LifecycleOutcome.Unchanged, null);
        yield return Case("On the old version while installing changes nothing", S.Installing, "1.0.0", LifecycleOutcome.Unchanged, null);
        yield return Case("A confirmed attempt stays confirmed whatever runs", S.Confirmed, "1.0.0", LifecycleOutcome.Unchanged, null);
        yield return Case("A failed attempt stays failed", S.Failed, "1.2.0", LifecycleOutcome.Unchanged, null);
        yield return Case("A rolled back attempt stays rolled back", S.RolledBack, "1.2.0", LifecycleOutcome.Unchanged, null);
        yield return Case("No attempt means nothing to decide", null, "1.2.0", LifecycleOutcome.Unchanged, null);
    }

    [TestCaseSource(nameof(CheckIns))]
    public void Check_ins_confirm_or_roll_back_a_reported_update(S? current, string running, LifecycleOutcome outcome, S? status)
    {
        var attempt = current is { } c ? At(c, 100) : null;

        var decision = UpdateLifecycle.OnCheckIn(attempt, V(running));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.Outcome, Is.EqualTo(outcome));
            Assert.That(decision.NewAttempt?.Status, Is.EqualTo(status));
            Assert.That(decision.StartsAttempt, Is.False);
            Assert.That(decision.CountsAsFailure, Is.EqualTo(status == S.RolledBack));
        }
    }

    [Test]
    public void A_rollback_names_the_target_and_what_still_runs()
    {
        var decision = UpdateLifecycle.OnCheckIn(At(S.Success, 100), V("1.0.0"));

        Assert.That(decision.Reason, Is.EqualTo("the device reported success for 1.2.0 but still runs 1.0.0: rolled back"));
    }

    [Test]
    public void A_whole_update_walks_from_downloading_to_confirmed()
    {
        UpdateAttempt? attempt = null;
        var outcomes = new List<LifecycleOutcome>();
        foreach (var (status, progress) in new[] { (S.Downloading, 0), (S.Downloading, 50), (S.Downloading, 100), (S.Installing, 100), (S.Success, 100) })
        {
            var decision = Report(attempt, status, progress);
            outcomes.Add(decision.Outcome);
            attempt = decision.NewAttempt ?? attempt;
        }

        var checkIn = UpdateLifecycle.OnCheckIn(attempt, V("1.2.0"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(outcomes, Is.EqualTo(new[]
            {
                LifecycleOutcome.Started, LifecycleOutcome.Progressed, LifecycleOutcome.Progressed, LifecycleOutcome.Advanced, LifecycleOutcome.Advanced,
            }));
            Assert.That(checkIn.NewAttempt, Is.EqualTo(new UpdateAttempt("1.2.0", "1.0.0", S.Confirmed, 100)));
        }
    }

    [Test]
    public void A_rolled_back_update_retried_and_confirmed_counts_one_failure()
    {
        var attempt = Report(null, S.Success, 100).NewAttempt;
        var rolledBack = UpdateLifecycle.OnCheckIn(attempt, V("1.0.0"));
        var again = UpdateLifecycle.OnCheckIn(rolledBack.NewAttempt, V("1.0.0"));
        var retry = Report(rolledBack.NewAttempt, S.Downloading, 0);
        var success = Report(retry.NewAttempt, S.Success, 100);
        var confirmed = UpdateLifecycle.OnCheckIn(success.NewAttempt, V("1.2.0"));

        var decisions = new[] { rolledBack, again, retry, success, confirmed };

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decisions.Count(d => d.CountsAsFailure), Is.EqualTo(1));
            Assert.That(decisions.Count(d => d.StartsAttempt), Is.EqualTo(1));
            Assert.That(confirmed.NewAttempt?.Status, Is.EqualTo(S.Confirmed));
        }
    }

    private static readonly DateTimeOffset Noon = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [TestCase(S.Downloading, 360)]
    [TestCase(S.Installing, 60)]
    [TestCase(S.Success, 120)]
    public void An_attempt_silent_for_its_steps_deadline_times_out_and_not_a_minute_before(S status, int minutes)
    {
        var attempt = At(status, 40);

        var before = UpdateLifecycle.OnDeadline(attempt, Noon, AttemptDeadline.Default, Noon.AddMinutes(minutes).AddSeconds(-1));
        var at = UpdateLifecycle.OnDeadline(attempt, Noon, AttemptDeadline.Default, Noon.AddMinutes(minutes));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.NewAttempt, Is.Null);
            Assert.That(at.Outcome, Is.EqualTo(LifecycleOutcome.TimedOut));
            Assert.That(at.NewAttempt, Is.EqualTo(attempt with { Status = S.TimedOut }));
            Assert.That(at.CountsAsFailure, Is.True);
            Assert.That(at.Reason, Does.Contain($"no word from the device for {minutes} min while {status.ToWire()} 1.2.0"));
        }
    }

    [TestCase(S.Confirmed)]
    [TestCase(S.Failed)]
    [TestCase(S.RolledBack)]
    [TestCase(S.TimedOut)]
    public void An_attempt_that_ended_never_times_out(S status) =>
        Assert.That(UpdateLifecycle.OnDeadline(At(status), Noon, AttemptDeadline.Default, Noon.AddDays(30)).NewAttempt, Is.Null);

    [Test]
    public void A_confirmation_after_a_timeout_records_the_truth_once()
    {
        var timedOut = UpdateLifecycle.OnDeadline(At(S.Success, 100), Noon, AttemptDeadline.Default, Noon.AddHours(3)).NewAttempt!;

        var confirmed = UpdateLifecycle.OnCheckIn(timedOut, V("1.2.0"));
        var stillOld = UpdateLifecycle.OnCheckIn(timedOut, V("1.0.0"));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(confirmed.Outcome, Is.EqualTo(LifecycleOutcome.Confirmed));
            Assert.That(confirmed.NewAttempt!.Status, Is.EqualTo(S.Confirmed));
            Assert.That(confirmed.CountsAsFailure || confirmed.StartsAttempt, Is.False, "neither a second attempt nor a second failure");
            Assert.That(stillOld.NewAttempt, Is.Null);
        }
    }

    [TestCase(S.Installing, LifecycleOutcome.Advanced, false)]
    [TestCase(S.Success, LifecycleOutcome.Advanced, false)]
    [TestCase(S.Failed, LifecycleOutcome.Failed, true)]
    [TestCase(S.Downloading, LifecycleOutcome.Started, false)]
    public void A_report_after_a_timeout_records_what_the_device_says(S reported, LifecycleOutcome outcome, bool failure)
    {
        var decision = Report(At(S.TimedOut, 30), reported, 60);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(decision.Outcome, Is.EqualTo(outcome));
            Assert.That(decision.NewAttempt!.Status, Is.EqualTo(reported));
            Assert.That(decision.CountsAsFailure, Is.EqualTo(failure));
        }
    }

    [Test]
    public void Deadlines_outside_a_minute_to_30_days_are_refused_naming_the_field()
    {
        var errors = AttemptDeadline.Validate(0, 60, 43_201);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(errors.Select(e => e.Field), Is.EqualTo(new[] { AttemptDeadline.DownloadingField, AttemptDeadline.SuccessField }));
            Assert.That(() => AttemptDeadline.FromMinutes(0, 60, 60), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(AttemptDeadline.Validate(1, 1, 43_200), Is.Empty);
        }
    }

    [TestCase("downloading", S.Downloading, true)]
    [TestCase("installing", S.Installing, true)]
    [TestCase("success", S.Success, true)]
    [TestCase("failed", S.Failed, true)]
    [TestCase("confirmed", S.Confirmed, false)]
    [TestCase("rolled_back", S.RolledBack, false)]
    [TestCase("timed_out", S.TimedOut, false)]
    public void Statuses_have_wire_names_and_only_four_are_reported_by_devices(string wire, S status, bool reportable)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(UpdateStatuses.TryParse(wire, out var parsed), Is.True);
            Assert.That(parsed, Is.EqualTo(status));
            Assert.That(status.ToWire(), Is.EqualTo(wire));
            Assert.That(status.IsDeviceReportable(), Is.EqualTo(reportable));
        }
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("Success")]
    [TestCase("rolledback")]
    [TestCase("done")]
    public void Unknown_status_names_are_refused(string? wire) =>
        Assert.That(UpdateStatuses.TryParse(wire, out _), Is.False);
}

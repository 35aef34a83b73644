using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class RolloutHealthTests
{
    private static HealthVerdict Evaluate(int attempts, int failed, int rolledBack, FailureThreshold? threshold = null) =>
        RolloutHealth.Evaluate(new RolloutCounts(attempts, failed, rolledBack), threshold ?? FailureThreshold.Default);

    [Test]
    public void Every_started_device_is_an_attempt_failed_rolled_back_or_timed_out_ones_are_failures_and_confirmed_ones_count_apart()
    {
        UpdateStatus?[] devices =
        [
            null, null,
            UpdateStatus.Downloading, UpdateStatus.Installing, UpdateStatus.Success, UpdateStatus.Confirmed,
            UpdateStatus.Failed, UpdateStatus.Failed, UpdateStatus.RolledBack, UpdateStatus.TimedOut,
        ];

        var counts = RolloutHealth.Count(devices);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new RolloutCounts(8, 2, 1, 1, Confirmed: 1)));
            Assert.That(counts.Failures, Is.EqualTo(4));
            Assert.That(Enum.GetValues<UpdateStatus>().Where(RolloutHealth.IsFailure),
                Is.EquivalentTo(new[] { UpdateStatus.Failed, UpdateStatus.RolledBack, UpdateStatus.TimedOut }));
        }
    }

    [Test]
    public void Failures_above_the_threshold_halt_with_the_figures_in_the_reason()
    {
        var verdict = Evaluate(40, 2, 1);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.MustHalt, Is.True);
            Assert.That(verdict.FailureRatePercent, Is.EqualTo(7.5m));
            Assert.That(verdict.Reason, Is.EqualTo("halted: 3 of 40 attempts failed or rolled back (7.5 %), above the 5 % threshold"));
        }
    }

    [Test]
    public void Timed_out_attempts_count_as_failures_and_the_reason_says_so()
    {
        var verdict = RolloutHealth.Evaluate(new RolloutCounts(20, 1, 0, 1), FailureThreshold.Default);

        Assert.That(verdict.Reason, Is.EqualTo("halted: 2 of 20 attempts failed, rolled back or timed out (10 %), above the 5 % threshold"));
    }

    [Test]
    public void Exactly_at_the_threshold_does_not_halt()
    {
        var verdict = Evaluate(40, 2, 0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.MustHalt, Is.False);
            Assert.That(verdict.FailureRatePercent, Is.EqualTo(5m));
            Assert.That(verdict.Reason, Does.StartWith("healthy: 2 of 40 attempts failed or rolled back (5 %)"));
        }
    }

    [Test]
    public void Nineteen_attempts_are_too_few_to_judge_even_when_all_failed()
    {
        var verdict = Evaluate(19, 19, 0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.MustHalt, Is.False);
            Assert.That(verdict.FailureRatePercent, Is.EqualTo(100m));
            Assert.That(verdict.Reason, Does.StartWith("too early to judge: 19 of 19 attempts").And.Contains("20 attempts are needed"));
        }
    }

    [Test]
    public void Twenty_attempts_are_enough_to_halt()
    {
        Assert.That(Evaluate(20, 2, 0).MustHalt, Is.True);
    }

    [Test]
    public void One_failure_in_twenty_is_exactly_5_percent_and_does_not_halt()
    {
        Assert.That(Evaluate(20, 1, 0).MustHalt, Is.False);
    }

    [Test]
    public void Rollbacks_count_as_failures()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Evaluate(20, 0, 2).MustHalt, Is.True);
            Assert.That(Evaluate(20, 1, 1).MustHalt, Is.True);
            Assert.That(Evaluate(20, 0, 1).MustHalt, Is.False);
        }
    }

    [Test]
    public void No_attempts_means_a_zero_rate()
    {
        var verdict = Evaluate(0, 0, 0);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdict.MustHalt, Is.False);
            Assert.That(verdict.FailureRatePercent, Is.Zero);
        }
    }

    [Test]
    public void A_custom_threshold_is_honoured_to_the_hundredth_of_a_percent()
    {
        var threshold = new FailureThreshold(0.25m, 100);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(Evaluate(400, 1, 0, threshold).MustHalt, Is.False);
            Assert.That(Evaluate(399, 1, 0, threshold).MustHalt, Is.True);
            Assert.That(Evaluate(399, 1, 0, threshold).Reason, Does.EndWith("above the 0.25 % threshold"));
        }
    }

    [Test]
    public void A_threshold_of_one_attempt_halts_on_the_first_failure()
    {
        Assert.That(Evaluate(1, 1, 0, new FailureThreshold(5m, 1)).MustHalt, Is.True);
    }

    [TestCase(-1, 0, 0)]
    [TestCase(10, -1, 0)]
    [TestCase(10, 0, -1)]
    public void Negative_counts_cannot_exist(int attempts, int failed, int rolledBack) =>
        Assert.That(() => new RolloutCounts(attempts, failed, rolledBack), Throws.TypeOf<ArgumentOutOfRangeException>());
}

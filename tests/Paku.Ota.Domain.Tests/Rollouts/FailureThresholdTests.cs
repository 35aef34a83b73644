using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class FailureThresholdTests
{
    [Test]
    public void The_default_halts_above_5_percent_after_20_attempts()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FailureThreshold.Default.Percent, Is.EqualTo(5m));
            Assert.That(FailureThreshold.Default.MinimumAttempts, Is.EqualTo(20));
        }
    }

    [TestCase(0.01, 1)]
    [TestCase(100, 1)]
    [TestCase(5, 1000)]
    public void Thresholds_above_0_up_to_100_percent_with_at_least_one_attempt_are_valid(decimal percent, int attempts)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FailureThreshold.Validate(percent, attempts), Is.Empty);
            Assert.That(new FailureThreshold(percent, attempts).Percent, Is.EqualTo(percent));
        }
    }

    [TestCase(0, 20, "failure_threshold.percent")]
    [TestCase(-1, 20, "failure_threshold.percent")]
    [TestCase(100.01, 20, "failure_threshold.percent")]
    [TestCase(5, 0, "failure_threshold.minimum_attempts")]
    [TestCase(5, -3, "failure_threshold.minimum_attempts")]
    public void Invalid_thresholds_cannot_exist(decimal percent, int attempts, string field)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FailureThreshold.Validate(percent, attempts).Select(e => e.Field), Is.EqualTo(new[] { field }));
            Assert.That(() => new FailureThreshold(percent, attempts), Throws.TypeOf<ArgumentOutOfRangeException>());
        }
    }
}

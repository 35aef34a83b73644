using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Domain.Tests.Rollouts.Events;

public sealed class DeliveryRetryTests
{
    private static readonly DeliveryRetry Retry = new(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(60), maxAttempts: 30);

    [TestCase(1, 10)]
    [TestCase(2, 20)]
    [TestCase(3, 40)]
    [TestCase(9, 2560)]
    [TestCase(10, 3600)]
    [TestCase(29, 3600)]
    public void The_delay_doubles_per_failed_attempt_up_to_the_cap_and_jitter_takes_at_most_half_of_it(int failedAttempts, int fullSeconds)
    {
        var shortest = Retry.DelayAfter(failedAttempts, 0);
        var longest = Retry.DelayAfter(failedAttempts, 0.999999);

        Assert.That(shortest, Is.EqualTo(TimeSpan.FromSeconds(fullSeconds / 2.0)));
        Assert.That(longest!.Value.TotalSeconds, Is.EqualTo(fullSeconds).Within(0.01));
    }

    [Test]
    public void Jitter_spreads_retries_of_the_same_attempt()
    {
        Assert.That(Retry.DelayAfter(3, 0.1), Is.Not.EqualTo(Retry.DelayAfter(3, 0.7)));
    }

    [Test]
    public void A_delivery_is_given_up_after_its_last_allowed_attempt()
    {
        Assert.That(Retry.DelayAfter(29, 0.5), Is.Not.Null);
        Assert.That(Retry.DelayAfter(30, 0.5), Is.Null);
        Assert.That(new DeliveryRetry(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), maxAttempts: 1).DelayAfter(1, 0), Is.Null);
    }

    [Test]
    public void Nonsense_settings_and_jitter_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DeliveryRetry(TimeSpan.Zero, TimeSpan.FromSeconds(1), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DeliveryRetry(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new DeliveryRetry(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Retry.DelayAfter(1, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Retry.DelayAfter(0, 0.5));
    }
}

using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class PaceTests
{
    private static readonly DateTimeOffset Minute = new(2026, 11, 30, 18, 0, 0, TimeSpan.Zero);

    [Test]
    public void The_per_minute_budget_refuses_the_fourth_offer_of_a_minute_and_admits_again_in_the_next()
    {
        var pace = new Pace(3, null);
        var usage = PaceUsage.Unused;
        var admitted = 0;
        for (var i = 0; i < 5; i++)
        {
            var decision = pace.Decide(usage, Minute.AddSeconds(10 + i));
            admitted += decision.Admitted ? 1 : 0;
            usage = decision.After;
        }

        var refused = pace.Decide(usage, Minute.AddSeconds(59.9));
        var nextMinute = pace.Decide(usage, Minute.AddMinutes(1));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(admitted, Is.EqualTo(3));
            Assert.That(refused.Admitted, Is.False);
            Assert.That(refused.RetryFrom, Is.EqualTo(Minute.AddMinutes(1)));
            Assert.That(refused.Reason, Does.StartWith("paced: 3 of 3 new attempts this minute"));
            Assert.That(nextMinute.Admitted, Is.True);
            Assert.That(nextMinute.After, Is.EqualTo(new PaceUsage(Minute.AddMinutes(1), 1, 4)));
        }
    }

    [Test]
    public void The_in_flight_limit_refuses_while_that_many_attempts_are_running()
    {
        var pace = new Pace(null, 2);

        var full = pace.Decide(new PaceUsage(Minute, 0, 2), Minute.AddSeconds(30));
        var room = pace.Decide(new PaceUsage(Minute, 50, 1), Minute.AddSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(full.Admitted, Is.False);
            Assert.That(full.RetryFrom, Is.EqualTo(Minute.AddSeconds(90)));
            Assert.That(full.Reason, Does.StartWith("paced: 2 attempts are in flight, at most 2"));
            Assert.That(room.Admitted, Is.True, "no per-minute limit");
        }
    }

    [TestCase(0, null, "pace.per_minute")]
    [TestCase(null, -1, "pace.max_in_flight")]
    [TestCase(1_000_001, null, "pace.per_minute")]
    public void A_pace_out_of_range_is_refused_naming_the_field(int? perMinute, int? inFlight, string field)
    {
        Assert.That(Pace.Validate(perMinute, inFlight).Single().Field, Is.EqualTo(field));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Pace(perMinute, inFlight));
    }

    [Test]
    public void An_offer_holds_an_in_flight_slot_until_the_device_starts_or_the_downloading_deadline_passes()
    {
        var deadline = AttemptDeadline.FromMinutes(30, 10, 10);
        var offered = Minute;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(RolloutHealth.IsInFlight(null, offered, deadline, Minute.AddMinutes(29)), Is.True);
            Assert.That(RolloutHealth.IsInFlight(null, offered, deadline, Minute.AddMinutes(30)), Is.False);
            Assert.That(RolloutHealth.IsInFlight(UpdateStatus.Downloading, offered, deadline, Minute.AddDays(3)), Is.True);
            Assert.That(RolloutHealth.IsInFlight(UpdateStatus.Installing, offered, deadline, Minute), Is.True);
            Assert.That(
                new[] { UpdateStatus.Success, UpdateStatus.Confirmed, UpdateStatus.Failed, UpdateStatus.RolledBack, UpdateStatus.TimedOut }
                    .Where(s => RolloutHealth.IsInFlight(s, offered, deadline, Minute)),
                Is.Empty);
        }
    }
}

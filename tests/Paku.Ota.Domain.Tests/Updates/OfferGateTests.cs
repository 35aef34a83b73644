using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Domain.Tests.Updates;

public sealed class OfferGateTests
{
    private static readonly DateTimeOffset Noon = new(2026, 12, 1, 12, 0, 0, TimeSpan.Zero);

    private static Rollout Windowed(string start, string end)
    {
        var rollout = Make.NewRollout();
        var (window, _) = MaintenanceWindow.Create(null, start, end, null, "");
        rollout.ChangeWindows(new WindowSchedule([window!]));
        return rollout;
    }

    [Test]
    public void Outside_its_window_a_rollout_defers_to_the_next_opening_and_says_when()
    {
        var rollout = Windowed("22:00", "02:00");

        var deferral = OfferGate.OutsideWindow(rollout, Noon)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(OfferGate.OutsideWindow(rollout, Noon.AddHours(11)), Is.Null, "23:00 is inside");
            Assert.That(deferral.OpensAt, Is.EqualTo(Noon.AddHours(10)));
            Assert.That(deferral.Spread, Is.EqualTo(TimeSpan.FromHours(4)));
            Assert.That(deferral.Reason, Is.EqualTo("outside window, next opens at 2026-12-01T22:00:00Z for 4 h"));
        }
    }

    [Test]
    public void A_fleet_told_to_wait_for_a_window_spreads_over_it_instead_of_arriving_at_its_first_second()
    {
        var deferral = OfferGate.OutsideWindow(Windowed("12:30", "13:00"), Noon)!;

        var seconds = Enumerable.Range(0, 2000).Select(i => deferral.NextCheckSeconds("r", $"dev{i}", Noon, 3600)).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(seconds.Min(), Is.GreaterThanOrEqualTo(1800), "none before the window opens");
            Assert.That(seconds.Max(), Is.LessThanOrEqualTo(3600), "none after it closes");
            Assert.That(seconds.Count(s => s < 1800 + 60), Is.LessThan(150), "about 1/30 in the first minute, not all");
            Assert.That(seconds.Max() - seconds.Min(), Is.GreaterThan(1700));
            Assert.That(deferral.NextCheckSeconds("r", "dev7", Noon, 3600), Is.EqualTo(seconds[7]), "the same device keeps its place");
        }
    }

    [Test]
    public void A_far_opening_sends_the_device_back_at_its_usual_interval()
    {
        var deferral = OfferGate.OutsideWindow(Windowed("10:00", "11:00"), Noon)!; // tomorrow

        Assert.That(deferral.NextCheckSeconds("r", "dev1", Noon, 3600), Is.EqualTo(3600));
    }

    [Test]
    public void A_device_downloading_or_installing_the_rollouts_release_is_underway_and_others_are_not()
    {
        var rollout = Make.NewRollout(version: "1.2.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(OfferGate.IsUnderway(new UpdateAttempt("1.2.0", "1.0.0", UpdateStatus.Downloading, 40), rollout), Is.True);
            Assert.That(OfferGate.IsUnderway(new UpdateAttempt("1.2.0", "1.0.0", UpdateStatus.Installing, 100), rollout), Is.True);
            Assert.That(OfferGate.IsUnderway(new UpdateAttempt("1.1.0", "1.0.0", UpdateStatus.Downloading, 40), rollout), Is.False, "another release");
            Assert.That(OfferGate.IsUnderway(new UpdateAttempt("1.2.0", "1.0.0", UpdateStatus.Failed, 40), rollout), Is.False, "a retry is a new attempt");
            Assert.That(OfferGate.IsUnderway(null, rollout), Is.False);
        }
    }

    [Test]
    public void A_paced_device_comes_back_after_the_next_minute_starts_within_its_usual_interval()
    {
        var decision = new Pace(1, null).Decide(new PaceUsage(Noon, 1, 0), Noon.AddSeconds(20));
        var deferral = OfferGate.Paced(decision, TimeSpan.FromHours(1));

        var seconds = Enumerable.Range(0, 500).Select(i => deferral.NextCheckSeconds("r", $"dev{i}", Noon.AddSeconds(20), 3600)).ToList();

        Assert.That(seconds.Min(), Is.GreaterThanOrEqualTo(40));
        Assert.That(seconds.Max(), Is.LessThanOrEqualTo(3600));
        Assert.That(seconds.Distinct().Count(), Is.GreaterThan(400));
    }
}

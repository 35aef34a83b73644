using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Rollouts;

/// <summary>Maintenance windows answer "open at t?" and "when next?" for any t, across midnight, week
/// boundaries and daylight-saving changes, without waiting for any of them.</summary>
public sealed class WindowScheduleTests
{
    private static DateTimeOffset Utc(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    private static WindowSchedule Schedule(string start, string end, string? zone = null, params string[] days)
    {
        var (window, errors) = MaintenanceWindow.Create(days, start, end, zone, "windows[0].");
        Assert.That(errors, Is.Empty);
        return new WindowSchedule([window!]);
    }

    [Test]
    public void A_daily_utc_window_across_midnight_is_open_until_its_end_and_next_opens_the_same_evening()
    {
        var schedule = Schedule("22:00", "04:00");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(schedule.IsOpen(Utc("2026-11-30T23:00:00Z")), Is.True);
            Assert.That(schedule.IsOpen(Utc("2026-12-01T03:59:59Z")), Is.True, "opened the evening before");
            Assert.That(schedule.IsOpen(Utc("2026-12-01T04:00:00Z")), Is.False, "the end is exclusive");
            Assert.That(schedule.IsOpen(Utc("2026-12-01T21:59:59Z")), Is.False);
            Assert.That(schedule.NextOpening(Utc("2026-12-01T12:00:00Z")),
                Is.EqualTo(new Opening(Utc("2026-12-01T22:00:00Z"), Utc("2026-12-02T04:00:00Z"))));
            Assert.That(schedule.CurrentOpening(Utc("2026-12-01T01:00:00Z"))!.Value.Length, Is.EqualTo(TimeSpan.FromHours(6)));
        }
    }

    [Test]
    public void A_weekly_window_that_opens_on_saturday_night_stays_open_into_sunday_and_next_opens_a_week_later()
    {
        // 2026-11-28 is a Saturday
        var schedule = Schedule("23:00", "01:00", null, "sat");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(schedule.IsOpen(Utc("2026-11-28T23:30:00Z")), Is.True);
            Assert.That(schedule.IsOpen(Utc("2026-11-29T00:59:00Z")), Is.True, "Sunday, in Saturday's window");
            Assert.That(schedule.IsOpen(Utc("2026-11-29T23:30:00Z")), Is.False, "Sunday night is not Saturday night");
            Assert.That(schedule.NextOpening(Utc("2026-11-29T01:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-12-05T23:00:00Z")));
            Assert.That(schedule.NextOpening(Utc("2026-11-28T22:59:59Z"))!.Value.Start, Is.EqualTo(Utc("2026-11-28T23:00:00Z")));
        }
    }

    [Test]
    public void A_sunday_window_crossing_into_monday_is_found_from_the_monday_after_it_closed()
    {
        var schedule = Schedule("22:00", "02:00", null, "sun", "wed");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(schedule.IsOpen(Utc("2026-11-30T01:00:00Z")), Is.True, "Monday 01:00, opened Sunday 22:00");
            Assert.That(schedule.NextOpening(Utc("2026-11-30T02:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-12-02T22:00:00Z")), "Wednesday");
            Assert.That(schedule.NextOpening(Utc("2026-12-03T02:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-12-06T22:00:00Z")), "then Sunday");
        }
    }

    [Test]
    public void A_berlin_window_keeps_its_local_hours_when_the_clocks_go_forward()
    {
        var schedule = Schedule("01:00", "03:00", "Europe/Berlin");

        using (Assert.EnterMultipleScope())
        {
            // the night before: CET (+1)
            Assert.That(schedule.NextOpening(Utc("2026-03-27T12:00:00Z")), Is.EqualTo(new Opening(Utc("2026-03-28T00:00:00Z"), Utc("2026-03-28T02:00:00Z"))));
            // 2026-03-29 02:00 CET → 03:00 CEST: the window opens 01:00 CET and ends 03:00 CEST, one hour of real time
            Assert.That(schedule.NextOpening(Utc("2026-03-28T12:00:00Z")), Is.EqualTo(new Opening(Utc("2026-03-29T00:00:00Z"), Utc("2026-03-29T01:00:00Z"))));
            // the night after: CEST (+2)
            Assert.That(schedule.NextOpening(Utc("2026-03-29T12:00:00Z")), Is.EqualTo(new Opening(Utc("2026-03-29T23:00:00Z"), Utc("2026-03-30T01:00:00Z"))));
            Assert.That(schedule.IsOpen(Utc("2026-03-29T00:30:00Z")), Is.True);
            Assert.That(schedule.IsOpen(Utc("2026-03-29T01:00:00Z")), Is.False, "03:00 CEST, the end");
        }
    }

    [Test]
    public void A_start_in_the_skipped_hour_moves_forward_by_the_gap()
    {
        var schedule = Schedule("02:30", "05:00", "Europe/Berlin");

        // 02:30 does not exist on 2026-03-29: it becomes 03:30 CEST (01:30Z); 05:00 CEST is 03:00Z
        Assert.That(schedule.NextOpening(Utc("2026-03-28T12:00:00Z")), Is.EqualTo(new Opening(Utc("2026-03-29T01:30:00Z"), Utc("2026-03-29T03:00:00Z"))));
    }

    [Test]
    public void A_start_in_the_repeated_hour_means_its_first_occurrence_when_the_clocks_go_back()
    {
        var schedule = Schedule("02:30", "04:00", "Europe/Berlin");

        // 2026-10-25 03:00 CEST → 02:00 CET: 02:30 happens twice, the first time at 00:30Z; 04:00 CET is 03:00Z
        var opening = schedule.NextOpening(Utc("2026-10-24T12:00:00Z"))!.Value;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(opening, Is.EqualTo(new Opening(Utc("2026-10-25T00:30:00Z"), Utc("2026-10-25T03:00:00Z"))));
            Assert.That(opening.Length, Is.EqualTo(TimeSpan.FromHours(2.5)), "an hour longer in real time than on the clock");
            Assert.That(schedule.IsOpen(Utc("2026-10-25T01:30:00Z")), Is.True, "the second 02:30");
        }
    }

    [Test]
    public void A_new_york_business_day_window_moves_an_hour_in_utc_across_the_spring_change()
    {
        var schedule = Schedule("09:00", "17:00", "America/New_York", "mon", "tue", "wed", "thu", "fri");

        using (Assert.EnterMultipleScope())
        {
            // Friday 2026-03-06, EST (-5)
            Assert.That(schedule.NextOpening(Utc("2026-03-06T00:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-03-06T14:00:00Z")));
            // from Friday evening the next opening is Monday 2026-03-09, EDT (-4): the weekend is skipped
            Assert.That(schedule.NextOpening(Utc("2026-03-06T22:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-03-09T13:00:00Z")));
            Assert.That(schedule.IsOpen(Utc("2026-03-09T13:30:00Z")), Is.True);
            Assert.That(schedule.IsOpen(Utc("2026-03-06T13:30:00Z")), Is.False, "08:30 EST");
        }
    }

    [Test]
    public void Overlapping_windows_are_open_while_either_is_and_the_next_opening_is_the_earliest()
    {
        var (a, _) = MaintenanceWindow.Create(null, "01:00", "03:00", null, "");
        var (b, _) = MaintenanceWindow.Create(null, "02:00", "05:00", null, "");
        var schedule = new WindowSchedule([a!, b!]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(schedule.IsOpen(Utc("2026-12-01T04:00:00Z")), Is.True);
            Assert.That(schedule.CurrentOpening(Utc("2026-12-01T02:30:00Z"))!.Value.End, Is.EqualTo(Utc("2026-12-01T05:00:00Z")));
            Assert.That(schedule.NextOpening(Utc("2026-12-01T06:00:00Z"))!.Value.Start, Is.EqualTo(Utc("2026-12-02T01:00:00Z")));
        }
    }

    [Test]
    public void No_windows_means_always_open()
    {
        Assert.That(WindowSchedule.Always.IsOpen(Utc("2026-12-01T04:00:00Z")), Is.True);
        Assert.That(WindowSchedule.Always.NextOpening(Utc("2026-12-01T04:00:00Z")), Is.Null);
    }

    [Test]
    public void A_stored_window_in_a_time_zone_this_machine_does_not_know_never_opens()
    {
        var schedule = new WindowSchedule([MaintenanceWindow.Restore([], new TimeOnly(0, 0), new TimeOnly(23, 59), "Mars/Olympus_Mons")]);

        Assert.That(schedule.IsOpen(Utc("2026-12-01T12:00:00Z")), Is.False);
        Assert.That(schedule.NextOpening(Utc("2026-12-01T12:00:00Z")), Is.Null);
    }

    [TestCase("25:00", "04:00", null, null, "windows[2].start")]
    [TestCase("22:00", "4pm", null, null, "windows[2].end")]
    [TestCase("22:00", null, null, null, "windows[2].end")]
    [TestCase("22:00", "22:00", null, null, "windows[2].end")]
    [TestCase("22:00", "04:00", "Mars/Olympus_Mons", null, "windows[2].time_zone")]
    [TestCase("22:00", "04:00", "W. Europe Standard Time", null, "windows[2].time_zone")]
    [TestCase("22:00", "04:00", null, "funday", "windows[2].days[0]")]
    [TestCase("22:00", "04:00", null, "Mon", "windows[2].days[0]")]
    public void A_bad_window_is_refused_naming_the_field(string? start, string? end, string? zone, string? day, string field)
    {
        var (window, errors) = MaintenanceWindow.Create(day is null ? null : [day], start, end, zone, "windows[2].");

        Assert.That(window, Is.Null);
        Assert.That(errors.Select(e => e.Field), Is.EqualTo(new[] { field }));
    }

    [Test]
    public void More_than_32_windows_are_refused()
    {
        Assert.That(WindowSchedule.ValidateCount(32), Is.Empty);
        Assert.That(WindowSchedule.ValidateCount(33).Single().Field, Is.EqualTo("windows"));
    }
}

using System.Globalization;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>One stretch of time in which a rollout may start new attempts: from <see cref="Start"/> to
/// <see cref="End"/> local time in <see cref="TimeZoneId"/> (UTC unless named), on the listed days, or
/// every day when none are listed. An end at or before the start crosses midnight into the next day;
/// the days name the day the window opens.</summary>
/// <remarks>Daylight saving: a start or end that falls into the hour skipped in spring is moved forward
/// by the gap (02:30 becomes 03:30, as java.time and NodaTime resolve it); one that occurs twice in
/// autumn means its first occurrence. A window whose time zone this machine does not know never opens:
/// offering outside a window the operator set is worse than waiting.</remarks>
public sealed class MaintenanceWindow
{
    public const string DaysField = "days";
    public const string StartField = "start";
    public const string EndField = "end";
    public const string TimeZoneField = "time_zone";
    public const string Utc = "UTC";

    private static readonly string[] DayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

    private MaintenanceWindow(IReadOnlySet<DayOfWeek> days, TimeOnly start, TimeOnly end, string timeZoneId, TimeZoneInfo? zone)
    {
        Days = days;
        Start = start;
        End = end;
        TimeZoneId = timeZoneId;
        Zone = zone;
    }

    /// <summary>The days it opens on; empty means every day.</summary>
    public IReadOnlySet<DayOfWeek> Days { get; }

    public TimeOnly Start { get; }

    public TimeOnly End { get; }

    /// <summary>The IANA name as the operator gave it, or UTC.</summary>
    public string TimeZoneId { get; }

    /// <summary>Null when this machine does not know <see cref="TimeZoneId"/> (the window then never opens).</summary>
    public TimeZoneInfo? Zone { get; }

    public IReadOnlyList<string> DayNamesInOrder =>
        [.. Days.OrderBy(d => ((int)d + 6) % 7).Select(d => DayNames[(int)d])];

    /// <summary>A window from an operator's input; <paramref name="path"/> prefixes the field names in
    /// errors (e.g. <c>windows[0].</c>).</summary>
    public static (MaintenanceWindow? Window, IReadOnlyList<FieldError> Errors) Create(
        IReadOnlyList<string>? days, string? start, string? end, string? timeZone, string path)
    {
        List<FieldError> errors = [];
        var parsedDays = new HashSet<DayOfWeek>();
        foreach (var (day, i) in (days ?? []).Select((d, i) => (d, i)))
        {
            var index = Array.IndexOf(DayNames, day);
            if (index < 0)
            {
                errors.Add(new FieldError($"{path}{DaysField}[{i}]", $"a day is one of mon, tue, wed, thu, fri, sat, sun; got '{Shown(day)}'"));
            }
            else
            {
                parsedDays.Add((DayOfWeek)index);
            }
        }

        var startTime = ParseTime(start, $"{path}{StartField}", errors);
        var endTime = ParseTime(end, $"{path}{EndField}", errors);
        if (startTime is { } s && endTime is { } e && s == e)
        {
            errors.Add(new FieldError($"{path}{EndField}", $"the window must end at another time than it starts ({e:HH\\:mm}); to allow every hour, leave the windows out"));
        }

        var zoneId = timeZone ?? Utc;
        var zone = FindZone(zoneId);
        if (zone is null)
        {
            errors.Add(new FieldError($"{path}{TimeZoneField}", $"'{Shown(zoneId)}' is not an IANA time zone known here (e.g. UTC, Europe/Berlin, America/New_York)"));
        }

        return errors.Count > 0
            ? (null, errors)
            : (new MaintenanceWindow(parsedDays, startTime!.Value, endTime!.Value, zoneId, zone), []);
    }

    /// <summary>Rebuilds a stored window. Never throws for a time zone this machine does not know: the window just never opens.</summary>
    public static MaintenanceWindow Restore(IEnumerable<string> days, TimeOnly start, TimeOnly end, string timeZoneId)
    {
        ArgumentNullException.ThrowIfNull(days);
        ArgumentException.ThrowIfNullOrEmpty(timeZoneId);
        var parsed = days.Select(d => Array.IndexOf(DayNames, d)).Where(i => i >= 0).Select(i => (DayOfWeek)i).ToHashSet();
        return new MaintenanceWindow(parsed, start, end, timeZoneId, FindZone(timeZoneId));
    }

    /// <summary>The openings of this window that begin on the local dates <paramref name="firstDate"/> and the
    /// <paramref name="dayCount"/> − 1 days after it, in order.</summary>
    internal IEnumerable<Opening> OpeningsOn(DateOnly firstDate, int dayCount)
    {
        if (Zone is null)
        {
            yield break;
        }

        for (var i = 0; i < dayCount; i++)
        {
            var date = firstDate.AddDays(i);
            if (Days.Count > 0 && !Days.Contains(date.DayOfWeek))
            {
                continue;
            }

            var opens = Resolve(date, Start, Zone);
            var closes = Resolve(End > Start ? date : date.AddDays(1), End, Zone);
            if (closes > opens)
            {
                yield return new Opening(opens, closes);
            }
        }
    }

    /// <summary>The local date in the window's zone at <paramref name="at"/> (UTC when the zone is unknown).</summary>
    internal DateOnly LocalDate(DateTimeOffset at) =>
        DateOnly.FromDateTime(Zone is null ? at.UtcDateTime : TimeZoneInfo.ConvertTime(at, Zone).DateTime);

    public override string ToString()
    {
        var days = Days.Count == 0 ? "daily" : string.Join(",", DayNamesInOrder);
        return $"{days} {Start:HH\\:mm}–{End:HH\\:mm} {TimeZoneId}";
    }

    /// <summary>The instant a local date and time means in the zone (see the remarks on gaps and repeats).</summary>
    internal static DateTimeOffset Resolve(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        TimeSpan offset;
        if (zone.IsInvalidTime(local))
        {
            // skipped: the clocks jumped forward over it; the offset from before the jump moves it forward by the gap
            offset = Min(zone.GetUtcOffset(local.AddDays(-1)), zone.GetUtcOffset(local.AddDays(1)));
        }
        else if (zone.IsAmbiguousTime(local))
        {
            offset = zone.GetAmbiguousTimeOffsets(local).Max(); // the larger offset is the earlier instant
        }
        else
        {
            offset = zone.GetUtcOffset(local);
        }

        return new DateTimeOffset(local, offset).ToUniversalTime();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeOnly? ParseTime(string? text, string field, List<FieldError> errors)
    {
        if (text is null)
        {
            errors.Add(new FieldError(field, "a time of day is required, as HH:mm (00:00 to 23:59)"));
            return null;
        }

        if (text.Length == 5 && TimeOnly.TryParseExact(text, "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            return time;
        }

        errors.Add(new FieldError(field, $"a time of day is written HH:mm (00:00 to 23:59), got '{Shown(text)}'"));
        return null;
    }

    private static TimeZoneInfo? FindZone(string id)
    {
        if (id == Utc)
        {
            return TimeZoneInfo.Utc;
        }

        // Windows ids (e.g. "W. Europe Standard Time") are refused: the API speaks IANA names only
        return id.Length <= 64 && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) && zone.HasIanaId ? zone : null;
    }

    private static string Shown(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");
}

/// <summary>One opening of a window: from <see cref="Start"/> (inclusive) to <see cref="End"/> (exclusive), UTC.</summary>
public readonly record struct Opening(DateTimeOffset Start, DateTimeOffset End)
{
    public TimeSpan Length => End - Start;

    public bool Contains(DateTimeOffset at) => at >= Start && at < End;
}

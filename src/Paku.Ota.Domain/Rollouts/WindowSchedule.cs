namespace Paku.Ota.Domain.Rollouts;

/// <summary>When a rollout may start new attempts: inside any of its maintenance windows, or at any time
/// when it has none. Every question takes the time as a parameter.</summary>
public sealed class WindowSchedule
{
    public const string Field = "windows";

    /// <summary>More windows than anyone needs for a week; a longer list is a mistake.</summary>
    public const int MaxWindows = 32;

    // Local dates examined around an instant: one back (a window that opened yesterday and crosses
    // midnight) and eight ahead (a weekly window that just closed opens again in seven days).
    private const int DaysBack = 1;
    private const int DaysAhead = 8;

    public WindowSchedule(IEnumerable<MaintenanceWindow> windows)
    {
        ArgumentNullException.ThrowIfNull(windows);
        Windows = [.. windows];
    }

    public static WindowSchedule Always { get; } = new([]);

    public IReadOnlyList<MaintenanceWindow> Windows { get; }

    public bool IsAlwaysOpen => Windows.Count == 0;

    public static IReadOnlyList<FieldError> ValidateCount(int count) =>
        count <= MaxWindows ? [] : [new FieldError(Field, $"a rollout may have at most {MaxWindows} windows, got {count}")];

    public bool IsOpen(DateTimeOffset at) => IsAlwaysOpen || CurrentOpening(at) is not null;

    /// <summary>The opening <paramref name="at"/> falls in (the one that closes last when openings overlap), or null.</summary>
    public Opening? CurrentOpening(DateTimeOffset at)
    {
        Opening? current = null;
        foreach (var opening in Openings(at))
        {
            if (opening.Contains(at) && (current is null || opening.End > current.Value.End))
            {
                current = opening;
            }
        }

        return current;
    }

    /// <summary>The first opening that starts after <paramref name="at"/>, or null when no window can open
    /// (every window's time zone is unknown here) or the schedule is always open.</summary>
    public Opening? NextOpening(DateTimeOffset at)
    {
        Opening? next = null;
        foreach (var opening in Openings(at))
        {
            if (opening.Start > at && (next is null || opening.Start < next.Value.Start))
            {
                next = opening;
            }
        }

        return next;
    }

    private IEnumerable<Opening> Openings(DateTimeOffset at) =>
        Windows.SelectMany(w => w.OpeningsOn(w.LocalDate(at).AddDays(-DaysBack), DaysBack + DaysAhead + 1));
}

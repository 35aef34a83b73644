using System.Globalization;

namespace Paku.Ota.Api.WebConsole;

/// <summary>How the console writes times, sizes and rates: UTC throughout (a fleet spans time zones),
/// with a relative form beside it for "how long ago".</summary>
public static class Show
{
    public static string Time(DateTimeOffset? at) =>
        at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC" : "—";

    public static string Ago(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } t)
        {
            return "never";
        }

        var span = now - t;
        return span.TotalSeconds switch
        {
            < 60 => "just now",
            < 3600 => $"{(int)span.TotalMinutes} min ago",
            < 86400 => $"{(int)span.TotalHours} h ago",
            _ => $"{(int)span.TotalDays} d ago",
        };
    }

    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => (bytes / 1024.0).ToString("0.#", CultureInfo.InvariantCulture) + " KiB",
        _ => (bytes / (1024.0 * 1024)).ToString("0.##", CultureInfo.InvariantCulture) + " MiB",
    };

    public static string Percent(decimal value) => Figure(value) + " %";

    /// <summary>A figure with at most two decimals (a gate's 33.33 %, 3600 s).</summary>
    public static string Figure(decimal value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>A share of a whole as an SVG/CSS width, never NaN.</summary>
    public static string Share(long part, long whole) =>
        (whole <= 0 ? 0 : Math.Clamp(part * 100.0 / whole, 0, 100)).ToString("0.##", CultureInfo.InvariantCulture) + "%";

    public static string Number(long n) => n.ToString("N0", CultureInfo.InvariantCulture);
}

using System.Globalization;
using System.Text.Json;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>rollouts.windows: the same shape as the admin API's <c>windows</c>
/// (<c>[{"days": […], "start": "HH:mm", "end": "HH:mm", "time_zone": "…"}]</c>).</summary>
internal static class WindowsJson
{
    public static string Write(WindowSchedule schedule) =>
        JsonSerializer.Serialize(schedule.Windows.Select(w => new Dictionary<string, object>
        {
            ["days"] = w.DayNamesInOrder,
            ["start"] = w.Start.ToString("HH:mm", CultureInfo.InvariantCulture),
            ["end"] = w.End.ToString("HH:mm", CultureInfo.InvariantCulture),
            ["time_zone"] = w.TimeZoneId,
        }));

    /// <summary>A stored schedule. A window whose times cannot be read (edited by hand) is kept as one that never
    /// opens, never dropped: dropping it would open the rollout at hours the operator excluded.</summary>
    public static WindowSchedule Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array || document.RootElement.GetArrayLength() == 0)
        {
            return WindowSchedule.Always;
        }

        return new WindowSchedule(document.RootElement.EnumerateArray().Select(Window).ToList());
    }

    private static MaintenanceWindow Window(JsonElement element)
    {
        string? Text(string name) =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;

        var days = element.ValueKind == JsonValueKind.Object && element.TryGetProperty("days", out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Where(d => d.ValueKind == JsonValueKind.String).Select(d => d.GetString()!).ToList()
            : [];
        var zone = Text("time_zone") is { Length: > 0 } z ? z : MaintenanceWindow.Utc;
        if (TimeOnly.TryParseExact(Text("start"), "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var start)
            && TimeOnly.TryParseExact(Text("end"), "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out var end)
            && start != end)
        {
            return MaintenanceWindow.Restore(days, start, end, zone);
        }

        return MaintenanceWindow.Restore(days, TimeOnly.MinValue, TimeOnly.MaxValue, UnreadableZone);
    }

    // Not a time zone anywhere: the window never opens (see MaintenanceWindow).
    private const string UnreadableZone = "unreadable window";
}

using System.Globalization;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Devices;
using Paku.Ota.Application.Devices.ListDevices;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>Devices found by part of their id, model, version and group (ListDevices, as the admin API's
/// GET /api/admin/devices), a page at a time.</summary>
public sealed class DevicesModel(IMediator mediator, TimeProvider time) : PageModel
{
    public const int PageSize = 50;

    public static readonly (string Value, string Label)[] Statuses =
    [
        ("", "any"), ("failing", "failing (any failure)"), ("downloading", "downloading"), ("installing", "installing"),
        ("success", "success"), ("confirmed", "confirmed"), ("failed", "failed"), ("rolled_back", "rolled back"), ("timed_out", "timed out"), ("none", "never updated"),
    ];

    [BindProperty(SupportsGet = true, Name = "q")]
    public string? Q { get; set; }

    [BindProperty(SupportsGet = true, Name = "model")]
    public string? DeviceModel { get; set; }

    [BindProperty(SupportsGet = true, Name = "version")]
    public string? Version { get; set; }

    [BindProperty(SupportsGet = true, Name = "group")]
    public string? Group { get; set; }

    [BindProperty(SupportsGet = true, Name = "status")]
    public string? Status { get; set; }

    [BindProperty(SupportsGet = true, Name = "offset")]
    public string? OffsetText { get; set; }

    public int Offset { get; private set; }

    public IReadOnlyList<DeviceView> Devices { get; private set; } = [];

    public long Total { get; private set; }

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public DateTimeOffset Now => time.GetUtcNow();

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Offset = int.TryParse(OffsetText, NumberStyles.None, CultureInfo.InvariantCulture, out var offset) ? offset : 0;
        var query = new ListDevices(Blank(DeviceModel), Blank(Group), Blank(Version), PageSize.ToString(CultureInfo.InvariantCulture),
            Offset.ToString(CultureInfo.InvariantCulture)) { Search = Blank(Q), Status = Blank(Status) };
        var result = await mediator.Send(query, cancellationToken);
        if (!result.IsSuccess)
        {
            Errors = [.. ConsoleActions.Messages(result.Error!)];
            Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
            return;
        }

        Total = result.Value.Total;
        Devices = result.Value.Devices;
    }

    public string PageLink(int offset)
    {
        var query = new Dictionary<string, string?> { ["q"] = Q, ["model"] = DeviceModel, ["version"] = Version, ["group"] = Group, ["status"] = Status, ["offset"] = offset.ToString(CultureInfo.InvariantCulture) };
        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString("/console/devices", query.Where(p => !string.IsNullOrEmpty(p.Value)));
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
}

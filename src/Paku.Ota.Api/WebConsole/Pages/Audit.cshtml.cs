using System.Globalization;
using System.Text.Json;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Audit;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>The audit log, newest first, a page at a time (ListAudit, as GET /api/admin/audit).</summary>
public sealed class AuditModel(IMediator mediator) : PageModel
{
    public const int PageSize = 100;

    public static readonly string[] Actions =
    [
        "", "console.sign_in", "console.sign_out", "firmware.upload", "firmware.withdraw", "rollout.create", "rollout.change", "rollout.halt",
        "rollout.rollback", "device.groups.set", "device.groups.set_many", "device.block", "device.unblock",
    ];

    [BindProperty(SupportsGet = true, Name = "action")]
    public string? Action { get; set; }

    [BindProperty(SupportsGet = true, Name = "before_id")]
    public string? BeforeIdText { get; set; }

    public long? BeforeId { get; private set; }

    public IReadOnlyList<AuditEntry> Entries { get; private set; } = [];

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(BeforeIdText))
        {
            if (!long.TryParse(BeforeIdText, NumberStyles.None, CultureInfo.InvariantCulture, out var before))
            {
                Errors = [$"before_id must be a positive audit entry id, not '{BeforeIdText}'."];
                Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            BeforeId = before;
        }

        var result = await mediator.Send(new ListAudit(PageSize, BeforeId, string.IsNullOrEmpty(Action) ? null : Action), cancellationToken);
        if (!result.IsSuccess)
        {
            Errors = [.. ConsoleActions.Messages(result.Error!)];
            Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
            return;
        }

        Entries = result.Value;
    }

    /// <summary>The entry's details in one line: the reason given, else the problem's detail, else the request.</summary>
    public static string Detail(string? json)
    {
        if (json is null)
        {
            return "";
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return "";
            }

            foreach (var key in new[] { "reason", "detail" })
            {
                if (root.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String)
                {
                    return value.GetString()!;
                }
            }

            var via = root.TryGetProperty("via", out var v) ? $" via {v}" : "";
            return root.TryGetProperty("method", out var method) && root.TryGetProperty("path", out var path) ? $"{method} {path}{via}" : "";
        }
        catch (JsonException)
        {
            return "";
        }
    }
}

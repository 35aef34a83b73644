using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Devices;
using Paku.Ota.Application.Devices.Blocking;
using Paku.Ota.Application.Devices.GetDevice;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>The confirmation step of blocking or unblocking a device: the same BlockDevice and UnblockDevice
/// as PUT and DELETE /api/admin/devices/{id}/block, audited as device.block and device.unblock.</summary>
public sealed class DeviceActionModel(IMediator mediator, ConsoleActions actions) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "id")]
    public string Id { get; set; } = "";

    [BindProperty(SupportsGet = true, Name = "act")]
    public string Act { get; set; } = "";

    public DeviceBlockView? Blocked { get; private set; }

    public string? Reason { get; private set; }

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var device = await mediator.Send(new GetDevice(Id), cancellationToken);
        if (device.IsSuccess)
        {
            Blocked = device.Value.Blocked;
        }
        else if (Act == "unblock")
        {
            // a device that never checked in may still be blocked (revoked before first use), so only unblock needs it
            return new ViewResultOfProblem(ConsoleActions.StatusOf(device.Error!), "No such device", device.Error!.Detail);
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync([FromForm(Name = "reason")] string? reason, CancellationToken cancellationToken)
    {
        Reason = reason;
        var actor = User.Identity?.Name ?? "console";
        if (Act == "block")
        {
            var blocked = await actions.RunAsync(new BlockDevice(Id, reason, actor), "device.block", Id, cancellationToken);
            if (blocked.IsSuccess)
            {
                TempData["Flash"] = $"{Id} is blocked: {blocked.Value.Reason}";
                return Redirect($"/console/devices/{Uri.EscapeDataString(Id)}");
            }

            Errors = [.. ConsoleActions.Messages(blocked.Error!)];
            Response.StatusCode = ConsoleActions.StatusOf(blocked.Error!);
            return Page();
        }

        var unblocked = await actions.RunAsync(new UnblockDevice(Id), "device.unblock", Id, cancellationToken);
        if (unblocked.IsSuccess)
        {
            TempData["Flash"] = $"{Id} is unblocked.";
            return Redirect($"/console/devices/{Uri.EscapeDataString(Id)}");
        }

        Errors = [.. ConsoleActions.Messages(unblocked.Error!)];
        Response.StatusCode = ConsoleActions.StatusOf(unblocked.Error!);
        return Page();
    }
}

using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.GetRelease;
using Paku.Ota.Application.Firmware.WithdrawRelease;
using Paku.Ota.Application.Rollouts.ListRollouts;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>The confirmation step of a withdrawal: says which rollouts it will pause, then withdraws.</summary>
public sealed class WithdrawModel(IMediator mediator, ConsoleActions actions) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "model")]
    public string DeviceModel { get; set; } = "";

    [BindProperty(SupportsGet = true, Name = "version")]
    public string Version { get; set; } = "";

    public ReleaseRecord Release { get; private set; } = null!;

    public IReadOnlyList<string> Affected { get; private set; } = [];

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public string? Reason { get; private set; }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) =>
        await LoadAsync(cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostAsync([FromForm(Name = "reason")] string? reason, CancellationToken cancellationToken)
    {
        Reason = reason;
        if (await LoadAsync(cancellationToken) is { } missing)
        {
            return missing;
        }

        var result = await actions.RunAsync(new WithdrawRelease(DeviceModel, Version, reason), "firmware.withdraw", $"{DeviceModel}/{Version}", cancellationToken);
        if (result.IsSuccess)
        {
            var paused = result.Value.PausedRollouts;
            TempData["Flash"] = $"Release {result.Value.Release.Version} for {result.Value.Release.DeviceModel} withdrawn" +
                (paused.Count > 0 ? $"; paused {string.Join(", ", paused)}." : ".");
            return Redirect("/console/releases");
        }

        Errors = [.. ConsoleActions.Messages(result.Error!)];
        Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
        return Page();
    }

    private async Task<IActionResult?> LoadAsync(CancellationToken cancellationToken)
    {
        var release = await mediator.Send(new GetRelease(DeviceModel, Version), cancellationToken);
        if (!release.IsSuccess)
        {
            return new ViewResultOfProblem(ConsoleActions.StatusOf(release.Error!), "No such release", release.Error!.Detail);
        }

        Release = release.Value;
        var rollouts = await mediator.Send(new ListRollouts(DeviceModel), cancellationToken);
        Affected = rollouts.IsSuccess
            ? [.. rollouts.Value.Where(r => r.FirmwareVersion == Release.Version && r.State == "active").Select(r => r.Name)]
            : [];
        return null;
    }
}

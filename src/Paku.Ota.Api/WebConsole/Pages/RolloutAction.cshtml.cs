using System.Globalization;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.ChangeRollout;
using Paku.Ota.Application.Rollouts.CreateRollback;
using Paku.Ota.Application.Rollouts.GetRollout;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>The confirmation step of a rollout action (pause, resume, a new percentage, roll back): a page
/// that says what will happen, then one POST that sends the same command as the admin API (ChangeRollout as
/// PATCH /api/admin/rollout/{name}, CreateRollback as POST …/rollback).</summary>
public sealed class RolloutActionModel(IMediator mediator, ConsoleActions actions) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "name")]
    public string Name { get; set; } = "";

    [BindProperty(SupportsGet = true, Name = "act")]
    public string Act { get; set; } = "";

    public RolloutView Rollout { get; private set; } = null!;

    public int? Percent { get; private set; }

    public List<string> Errors { get; } = [];

    public bool CanConfirm => Errors.Count == 0;

    public string Title => Act switch
    {
        "pause" => $"Pause {Rollout.Name}?",
        "resume" => $"Resume {Rollout.Name}?",
        "rollback" => $"Roll back {Rollout.Name}?",
        _ => Percent > Rollout.RolloutPercentage ? $"Raise {Rollout.Name} to {Percent} %?" : $"Lower {Rollout.Name} to {Percent} %?",
    };

    public string Button => Act switch
    {
        "pause" => "Pause rollout",
        "resume" => "Resume rollout",
        "rollback" => "Create the rollback",
        _ => Percent > Rollout.RolloutPercentage ? $"Raise to {Percent} %" : $"Lower to {Percent} %",
    };

    public string Consequence => Act switch
    {
        "pause" => $"Devices will no longer be offered {Rollout.FirmwareVersion}. Devices already updating finish; their reports are still counted.",
        "resume" when Rollout.State == "halted" =>
            $"It halted because {Rollout.PauseReason}. Resuming offers {Rollout.FirmwareVersion} again; it halts again if failures stay above {Rollout.FailureThreshold.Percent.ToString("0.##", CultureInfo.InvariantCulture)} %.",
        "resume" => $"Devices in the rollout will be offered {Rollout.FirmwareVersion} again at their next check.",
        "rollback" => $"Creates {Rollout.Name}{CreateRollbackHandler.Suffix}: the previous release of {Rollout.DeviceModel}, allowed to downgrade, offered to the devices that took {Rollout.FirmwareVersion}. While it targets them, no other rollout is offered to them. {Rollout.Name} stays halted.",
        _ => Percent > Rollout.RolloutPercentage
            ? $"From {Rollout.RolloutPercentage} % to {Percent} % of the targeted {Rollout.DeviceModel} devices. Every device already in the rollout stays in."
            : $"From {Rollout.RolloutPercentage} % to {Percent} %: devices outside the new share are no longer offered it (those already updated keep their firmware).",
    };

    public async Task<IActionResult> OnGetAsync([FromQuery(Name = "percent")] string? percent, CancellationToken cancellationToken)
    {
        if (await LoadAsync(percent, cancellationToken) is { } missing)
        {
            return missing;
        }

        if (!CanConfirm && Act == "percentage")
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        return Page();
    }

    public async Task<IActionResult> OnPostAsync([FromForm(Name = "percent")] string? percent, CancellationToken cancellationToken)
    {
        if (await LoadAsync(percent, cancellationToken) is { } missing)
        {
            return missing;
        }

        if (!CanConfirm)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        var actor = User.Identity?.Name ?? "console";
        if (Act == "rollback")
        {
            var rollback = await actions.RunAsync(new CreateRollback(Name, actor), "rollout.rollback", Name, cancellationToken);
            if (rollback.IsSuccess)
            {
                TempData["Flash"] = $"Rollback {rollback.Value.Name} created: {rollback.Value.DeviceModel} {rollback.Value.FirmwareVersion} for {rollback.Value.TargetFilter.GetValueOrDefault("device_ids")?.Count ?? 0} devices.";
                return Redirect($"/console/rollouts/{Uri.EscapeDataString(rollback.Value.Name)}");
            }

            Errors.AddRange(ConsoleActions.Messages(rollback.Error!));
            Response.StatusCode = ConsoleActions.StatusOf(rollback.Error!);
            return Page();
        }

        var command = Act switch
        {
            "pause" => new ChangeRollout(Name, null, false, null, null, null, actor),
            "resume" => new ChangeRollout(Name, null, true, null, null, null, actor),
            _ => new ChangeRollout(Name, Percent, null, null, null, null, actor),
        };
        var result = await actions.RunAsync(command, "rollout.change", Name, cancellationToken);
        if (result.IsSuccess)
        {
            TempData["Flash"] = Act switch
            {
                "pause" => $"{Name} paused.",
                "resume" => $"{Name} resumed.",
                _ => $"{Name} now at {result.Value.RolloutPercentage} %.",
            };
            return Redirect($"/console/rollouts/{Uri.EscapeDataString(Name)}");
        }

        Errors.AddRange(ConsoleActions.Messages(result.Error!));
        Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
        return Page();
    }

    private async Task<IActionResult?> LoadAsync(string? percent, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetRollout(Name), cancellationToken);
        if (!result.IsSuccess)
        {
            return new ViewResultOfProblem(ConsoleActions.StatusOf(result.Error!), "No such rollout", result.Error!.Detail);
        }

        Rollout = result.Value;
        if (Act == "percentage")
        {
            if (!int.TryParse(percent, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > 100)
            {
                Percent = Rollout.RolloutPercentage;
                Errors.Add($"The percentage must be a whole number from 0 to 100, not '{percent}'.");
            }
            else
            {
                Percent = value;
                if (value == Rollout.RolloutPercentage)
                {
                    Errors.Add($"{Rollout.Name} is already at {value} %.");
                }
            }
        }
        else if (Act == "pause" && Rollout.State != "active")
        {
            Errors.Add($"{Rollout.Name} is {Rollout.State}, not active: there is nothing to pause.");
        }
        else if (Act == "rollback" && Rollout.State != "halted")
        {
            Errors.Add($"{Rollout.Name} is {Rollout.State}, not halted: only a halted rollout is rolled back this way.");
        }
        else if (Act == "resume" && Rollout.State == "active")
        {
            Errors.Add($"{Rollout.Name} is already active.");
        }

        return null;
    }
}

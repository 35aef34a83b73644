using System.Globalization;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.ChangeRollout;
using Paku.Ota.Application.Rollouts.CreateRollback;
using Paku.Ota.Application.Rollouts.GetRollout;
using Paku.Ota.Application.Rollouts.Phases;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>The confirmation step of a rollout action (pause, resume, a new percentage, roll back, and for a
/// phased rollout advance, hold and release): a page that says what will happen, then one POST that sends the
/// same command as the admin API (ChangeRollout as PATCH /api/admin/rollout/{name}, CreateRollback as POST
/// …/rollback, AdvancePhase as POST …/advance, HoldPhase as PUT/DELETE …/hold).</summary>
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
        "advance" => $"Advance {Rollout.Name} to phase {Rollout.Phase?.Current + 1}?",
        "hold" => $"Hold {Rollout.Name} in phase {Rollout.Phase?.Current}?",
        "release" => $"Release the hold on {Rollout.Name}?",
        _ => Percent > Rollout.RolloutPercentage ? $"Raise {Rollout.Name} to {Percent} %?" : $"Lower {Rollout.Name} to {Percent} %?",
    };

    public string Button => Act switch
    {
        "pause" => "Pause rollout",
        "resume" => "Resume rollout",
        "rollback" => "Create the rollback",
        "advance" => $"Advance to phase {Rollout.Phase?.Current + 1}",
        "hold" => "Hold in this phase",
        "release" => "Release the hold",
        _ => Percent > Rollout.RolloutPercentage ? $"Raise to {Percent} %" : $"Lower to {Percent} %",
    };

    public string Consequence => Act switch
    {
        "pause" => $"Devices will no longer be offered {Rollout.FirmwareVersion}. Devices already updating finish; their reports are still counted.",
        "resume" when Rollout.State == "halted" =>
            $"It halted because {Rollout.PauseReason}. Resuming offers {Rollout.FirmwareVersion} again; it halts again if failures stay above {Rollout.FailureThreshold.Percent.ToString("0.##", CultureInfo.InvariantCulture)} %.",
        "resume" => $"Devices in the rollout will be offered {Rollout.FirmwareVersion} again at their next check.",
        "rollback" => $"Creates {Rollout.Name}{CreateRollbackHandler.Suffix}: the previous release of {Rollout.DeviceModel}, allowed to downgrade, offered to the devices that took {Rollout.FirmwareVersion}. While it targets them, no other rollout is offered to them. {Rollout.Name} stays halted.",
        "advance" => $"Now, whatever its gates say ({Rollout.Phase?.Reason}). Phase {Rollout.Phase?.Current + 1} reaches {NextReach}; every device already reached stays reached. The advance and the gates' figures are audited.",
        "hold" => $"It keeps offering {Rollout.FirmwareVersion} to phase {Rollout.Phase?.Current} ({Rollout.Phase?.Reach}) but does not advance by itself when the gates pass; advance it by hand or release the hold. Its failure gate still halts it.",
        "release" => $"It advances by itself again as soon as phase {Rollout.Phase?.Current}'s gates pass.",
        _ => Percent > Rollout.RolloutPercentage
            ? $"From {Rollout.RolloutPercentage} % to {Percent} % of the targeted {Rollout.DeviceModel} devices. Every device already in the rollout stays in."
            : $"From {Rollout.RolloutPercentage} % to {Percent} %: devices outside the new share are no longer offered it (those already updated keep their firmware).",
    };

    /// <summary>What the next phase reaches, for the advance's confirmation.</summary>
    public string NextReach => Rollout.Phases?.FirstOrDefault(p => p.Number == Rollout.Phase!.Current + 1) is { } next
        ? next.Percentage is { } percentage ? $"{percentage} % of the devices" : "groups " + string.Join(", ", next.Groups ?? [])
        : "nothing more";

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

        var result = Act switch
        {
            "advance" => await actions.RunAsync(new AdvancePhase(Name, actor), "rollout.advance", Name, cancellationToken),
            "hold" or "release" => await actions.RunAsync(new HoldPhase(Name, Act == "hold", actor), Act == "hold" ? "rollout.hold" : "rollout.release_hold", Name, cancellationToken),
            "pause" => await actions.RunAsync(new ChangeRollout(Name, null, false, null, null, null, actor), "rollout.change", Name, cancellationToken),
            "resume" => await actions.RunAsync(new ChangeRollout(Name, null, true, null, null, null, actor), "rollout.change", Name, cancellationToken),
            _ => await actions.RunAsync(new ChangeRollout(Name, Percent, null, null, null, null, actor), "rollout.change", Name, cancellationToken),
        };
        if (result.IsSuccess)
        {
            var view = result.Value;
            TempData["Flash"] = Act switch
            {
                "pause" => $"{Name} paused.",
                "resume" => $"{Name} resumed.",
                "advance" => $"{Name} advanced to phase {view.Phase?.Current} ({view.Phase?.Reach}).",
                "hold" => $"{Name} held in phase {view.Phase?.Current}.",
                "release" => $"{Name} released: it advances by itself again.",
                _ => $"{Name} now at {view.RolloutPercentage} %.",
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
        else if (Act is "advance" or "hold" or "release" && Rollout.Phase is not { } phase)
        {
            Errors.Add($"{Rollout.Name} has no plan of phases.");
        }
        else if (Act == "advance" && Rollout.Phase!.Current == Rollout.Phase.Count)
        {
            Errors.Add($"{Rollout.Name} is in its last phase: there is nothing to advance to.");
        }
        else if (Act == "advance" && Rollout.State == "halted")
        {
            Errors.Add($"{Rollout.Name} is halted: resume it before advancing it.");
        }
        else if (Act == "hold" && Rollout.Phase!.HeldBy is not null)
        {
            Errors.Add($"{Rollout.Name} is already held ({Rollout.Phase.HeldBy}).");
        }
        else if (Act == "release" && Rollout.Phase!.HeldBy is null)
        {
            Errors.Add($"{Rollout.Name} is not held.");
        }

        return null;
    }
}

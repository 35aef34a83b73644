using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Devices.ExplainUpdate;
using Paku.Ota.Application.Devices.GetDevice;
using Paku.Ota.Application.Devices.SetGroups;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>One device: /explain (every rollout of its model and the rule that decided), its current
/// update, groups (editable), the rollouts that offered it something and its history.</summary>
public sealed class DevicePageModel(IMediator mediator, ConsoleActions actions, TimeProvider time) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "id")]
    public string Id { get; set; } = "";

    public DeviceDetail Detail { get; private set; } = null!;

    public UpdateExplanation? Explanation { get; private set; }

    public string? ExplainError { get; private set; }

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public string? GroupsText { get; private set; }

    public DateTimeOffset Now => time.GetUtcNow();

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken) ?? Page();

    public async Task<IActionResult> OnPostAsync([FromForm(Name = "groups")] string? groups, CancellationToken cancellationToken)
    {
        var result = await actions.RunAsync(new SetDeviceGroups(Id, RolloutsModel.List(groups)), "device.groups.set", Id, cancellationToken);
        if (result.IsSuccess)
        {
            TempData["Flash"] = result.Value.Groups.Count == 0 ? $"{Id} is in no group now." : $"{Id} is in {string.Join(", ", result.Value.Groups)} now.";
            return Redirect($"/console/devices/{Uri.EscapeDataString(Id)}");
        }

        if (await LoadAsync(cancellationToken) is { } missing)
        {
            return missing;
        }

        GroupsText = groups;
        Errors = [.. ConsoleActions.Messages(result.Error!)];
        Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
        return Page();
    }

    private async Task<IActionResult?> LoadAsync(CancellationToken cancellationToken)
    {
        var detail = await mediator.Send(new GetDevice(Id), cancellationToken);
        if (!detail.IsSuccess)
        {
            return new ViewResultOfProblem(ConsoleActions.StatusOf(detail.Error!), "No such device", detail.Error!.Detail);
        }

        Detail = detail.Value;
        var explanation = await mediator.Send(new ExplainUpdate(Id), cancellationToken);
        Explanation = explanation.IsSuccess ? explanation.Value : null;
        ExplainError = explanation.Error?.Detail;
        return null;
    }
}

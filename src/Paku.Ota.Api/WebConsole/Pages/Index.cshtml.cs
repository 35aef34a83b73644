using Mediator;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Devices.GetFleetOverview;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.ListRollouts;

namespace Paku.Ota.Api.WebConsole.Pages;

public sealed class IndexModel(IMediator mediator) : PageModel
{
    public FleetOverview Fleet { get; private set; } = null!;

    public IReadOnlyList<RolloutView> Rollouts { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Fleet = (await mediator.Send(new GetFleetOverview(), cancellationToken)).Value;
        Rollouts = (await mediator.Send(new ListRollouts(null), cancellationToken)).Value;
    }
}

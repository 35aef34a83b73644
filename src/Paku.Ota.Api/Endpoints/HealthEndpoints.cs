using Mediator;
using Paku.Ota.Application.Health;

namespace Paku.Ota.Api.Endpoints;

public static class HealthEndpoints
{
    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/health", async (IMediator mediator, CancellationToken ct) =>
        {
            var report = await mediator.Send(new CheckHealth(), ct);
            var body = new HealthBody(report.Healthy ? "healthy" : "unhealthy", report.DatabaseReachable ? "reachable" : "unreachable");
            return report.Healthy ? Results.Ok(body) : Results.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous();
    }

    private sealed record HealthBody(string Status, string Database);
}

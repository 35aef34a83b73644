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
            var migrations = !report.DatabaseReachable ? "unknown" : report.PendingMigrations.Count == 0 ? "current" : "pending";
            var reason = !report.DatabaseReachable
                ? "The database does not answer."
                : report.PendingMigrations.Count > 0
                    ? $"The database lacks migrations {string.Join(", ", report.PendingMigrations)}: run the migrate verb."
                    : null;
            var body = new HealthBody(report.Healthy ? "healthy" : "unhealthy", report.DatabaseReachable ? "reachable" : "unreachable", migrations, reason);
            return report.Healthy ? Results.Ok(body) : Results.Json(body, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous().WithName("Health").WithTags("Health")
            .Produces<HealthBody>().Produces<HealthBody>(StatusCodes.Status503ServiceUnavailable);
    }

    /// <param name="Migrations">current, pending or unknown (the database does not answer).</param>
    public sealed record HealthBody(string Status, string Database, string Migrations, string? Reason);
}

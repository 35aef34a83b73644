using System.Text.Json;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Paku.Ota.Api.Http;
using Paku.Ota.Api.Security;
using Paku.Ota.Application.Audit;
using Paku.Ota.Application.Catalog;

namespace Paku.Ota.Api.Endpoints;

/// <summary>The admin surface: every endpoint under /api/admin needs an API key (read scope), and
/// writes need write scope and are audited.</summary>
public static class AdminEndpoints
{
    public static RouteGroupBuilder MapAdminGroup(this IEndpointRouteBuilder app)
    {
        // every admin endpoint may answer 401 (no or unknown key) and 403 (a read key asking to write)
        var admin = app.MapGroup("/api/admin").RequireAuthorization(AdminPolicies.Read).AdminSurfaceOnly().WithTags("Admin")
            .Refuses(StatusCodes.Status401Unauthorized, StatusCodes.Status403Forbidden);
        admin.MapGet("/audit", ListAuditAsync).WithName("ListAudit").Produces<AuditList>().Refuses(400);
        return admin;
    }

    /// <summary>Marks an endpoint as an admin write: write scope, audited under <paramref name="action"/>,
    /// and the catalog cache invalidated when it succeeded (rollouts and releases may have changed).</summary>
    public static RouteHandlerBuilder AdminWrite(this RouteHandlerBuilder endpoint, string action) =>
        endpoint.RequireAuthorization(AdminPolicies.Write).WithMetadata(new AdminWriteMetadata(action)).AddEndpointFilter(new AuditFilter(action));

    private static async Task<IResult> ListAuditAsync(
        [FromQuery(Name = "limit")] int? limit,
        [FromQuery(Name = "before_id")] long? beforeId,
        [FromQuery(Name = "action")] string? action,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListAudit(limit, beforeId, action), cancellationToken);
        return result.ToHttp(entries => Results.Ok(new AuditList(entries.Select(e => new AuditEntryView(
            e.Id, e.At, e.Actor, e.Action, e.Target, e.Outcome,
            e.DetailsJson is null ? null : JsonDocument.Parse(e.DetailsJson).RootElement)).ToList())));
    }

    public sealed record AuditList(IReadOnlyList<AuditEntryView> Entries);

    /// <param name="Details">What the write asked for and, when refused, why (any JSON object).</param>
    public sealed record AuditEntryView(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string Outcome, JsonElement? Details);

    /// <summary>What an admin write acted on: the route's values ("esp32/1.2.0", a rollout name), else what
    /// the response names (a created rollout, an uploaded release), else the model and version asked for.</summary>
    private static string? TargetOf(HttpContext http, object? result)
    {
        var route = string.Join('/', http.Request.RouteValues.Values.OfType<string>());
        if (route.Length > 0)
        {
            return route;
        }

        if ((result as IValueHttpResult)?.Value is { } value and not Microsoft.AspNetCore.Mvc.ProblemDetails)
        {
            var body = JsonSerializer.SerializeToElement(value, http.RequestServices
                .GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions);
            if (body.ValueKind == JsonValueKind.Object)
            {
                if (body.TryGetProperty("name", out var name) && name.ValueKind == JsonValueKind.String)
                {
                    return name.GetString();
                }

                if (body.TryGetProperty("device_model", out var model) && body.TryGetProperty("version", out var version))
                {
                    return $"{model.GetString()}/{version.GetString()}";
                }
            }
        }

        var query = http.Request.Query;
        return query["version"].FirstOrDefault() is { } asked
            ? query["device_model"].FirstOrDefault() is { } askedModel ? $"{askedModel}/{asked}" : asked
            : null;
    }

    /// <summary>Records every admin write its endpoint answered, whether it succeeded or was refused, with
    /// the key that made it and what it acted on; <see cref="AdminAuditMiddleware"/> records the writes
    /// refused before they reached the endpoint.</summary>
    private sealed class AuditFilter(string action) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            var result = await next(context);
            var status = (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK;
            if (status < 400)
            {
                http.RequestServices.GetRequiredService<ICatalog>().Invalidate();
            }

            var detail = (result as IValueHttpResult)?.Value is Microsoft.AspNetCore.Mvc.ProblemDetails problem ? problem.Detail : null;
            await AdminAuditMiddleware.RecordAsync(http, action, TargetOf(http, result), status, detail);
            return result;
        }
    }
}

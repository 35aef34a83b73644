using System.Text.Json;
using Paku.Ota.Application.Audit;

namespace Paku.Ota.Api.Http;

/// <summary>Marks an endpoint as an audited admin write under <see cref="Action"/>.</summary>
public sealed record AdminWriteMetadata(string Action);

/// <summary>
/// Audits the admin writes that never reached their endpoint, or failed in it: refused by
/// authentication (401, no key name) or authorization (403, with the key's name), by a body over the
/// limit (413), by input refused before binding (400), and failures (500). What the endpoint answered
/// itself is recorded by the endpoint's own audit step, which knows what was acted on; this middleware
/// runs outermost, so it sees the final status whoever wrote it, and records each write once.
/// </summary>
public sealed class AdminAuditMiddleware(RequestDelegate next, ILogger<AdminAuditMiddleware> logger)
{
    /// <summary>Set by the endpoint's audit step once it has recorded the write.</summary>
    public const string RecordedItem = "paku.audit.recorded";

    /// <summary>The detail of the problem+json the request was answered with, kept for the audit.</summary>
    public const string ProblemDetailItem = "paku.audit.problem";

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<AdminWriteMetadata>() is not { } write)
        {
            await next(context);
            return;
        }

        // recorded as the answer starts, so that whoever got the answer finds it in the audit
        context.Response.OnStarting(() => RecordOnceAsync(context, write.Action, context.Response.StatusCode));
        try
        {
            await next(context);
        }
        catch
        {
            await RecordOnceAsync(context, write.Action, StatusCodes.Status500InternalServerError);
            throw;
        }

        await RecordOnceAsync(context, write.Action, context.Response.StatusCode); // an answer that never started
    }

    /// <summary>Records an admin write; used by the endpoint's audit step and by this middleware.</summary>
    public static async Task RecordAsync(HttpContext context, string action, string? target, int status, string? detail)
    {
        context.Items[RecordedItem] = true;
        var details = JsonSerializer.Serialize(new
        {
            method = context.Request.Method,
            path = context.Request.Path.Value,
            query = context.Request.QueryString.Value,
            status,
            detail,
        });
        var outcome = status < 400 ? "succeeded" : status < 500 ? $"refused ({status})" : $"failed ({status})";
        await context.RequestServices.GetRequiredService<IAuditLog>()
            .RecordAsync(context.User.Identity?.Name ?? "unauthenticated", action, target, outcome, details, CancellationToken.None);
    }

    private async Task RecordOnceAsync(HttpContext context, string action, int status)
    {
        if (context.Items.ContainsKey(RecordedItem))
        {
            return;
        }

        try
        {
            var target = string.Join('/', context.Request.RouteValues.Values.OfType<string>());
            await RecordAsync(context, action, target.Length > 0 ? target : null, status, context.Items[ProblemDetailItem] as string);
        }
        catch (Exception e)
        {
            // the answer has been sent; an audit that cannot be written must not turn it into another
            logger.LogError(e, "Could not audit {Action} answered {Status}", action, status);
        }
    }
}

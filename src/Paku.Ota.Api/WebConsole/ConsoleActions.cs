using System.Text.Json;
using Mediator;
using Paku.Ota.Api.Http;
using Paku.Ota.Application.Audit;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Api.WebConsole;

/// <summary>What a console action does around its use case, as the admin API's audit filter does around
/// an endpoint: send the command, make the device check see a success at once (catalog), and record the
/// action, refused or not, under the signed-in key's name with the same action names as the API.</summary>
public sealed class ConsoleActions(IMediator mediator, ICatalog catalog, IAuditLog audit, IHttpContextAccessor accessor)
{
    public async Task<Result<T>> RunAsync<T>(ICommand<Result<T>> command, string action, string? target, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(command, cancellationToken);
        if (result.IsSuccess)
        {
            catalog.Invalidate();
        }

        var outcome = result.IsSuccess ? "succeeded" : $"refused ({StatusOf(result.Error!)})";
        await RecordAsync(action, target, outcome, result.Error?.Detail);
        return result;
    }

    /// <summary>What a refused use case said, one line per field (or its detail when it names none).</summary>
    public static IEnumerable<string> Messages(Error error) =>
        error.Fields is { Count: > 0 } fields ? fields.SelectMany(f => f.Value).Distinct() : [error.Detail];

    /// <summary>The HTTP status the admin API answers this refusal with; the console's page uses the same.</summary>
    public static int StatusOf(Error error) => (error.ToProblem() as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status400BadRequest;

    /// <summary>Records a console event (a sign-in, say) under <paramref name="actor"/>, or the signed-in key.</summary>
    public Task RecordAsync(string action, string? target, string outcome, string? detail, string? actor = null)
    {
        var http = accessor.HttpContext;
        var details = JsonSerializer.Serialize(new
        {
            via = "console",
            method = http?.Request.Method,
            path = http?.Request.Path.Value,
            remote = http?.Connection.RemoteIpAddress?.ToString(),
            detail,
        });
        return audit.RecordAsync(actor ?? http?.User.Identity?.Name ?? "unauthenticated", action, target, outcome, details, CancellationToken.None);
    }
}

using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Api.Http;

/// <summary>The one global handler: bad requests the framework rejects become 400s that say why,
/// an unreachable database becomes 503 with Retry-After, anything else a 500 without internals.</summary>
public sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested =>
                (499, "Client closed request", "The client went away before the answer was ready."),
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            System.Text.Json.JsonException json => (StatusCodes.Status400BadRequest, "Bad request", $"The JSON body is not valid: {json.Message}"),
            FluentValidation.ValidationException invalid => (StatusCodes.Status400BadRequest, "Invalid request", invalid.Message),
            _ when DatabaseUnavailable.Is(exception) => (StatusCodes.Status503ServiceUnavailable, "Service unavailable",
                "The database is unreachable; try again shortly."),
            _ => (StatusCodes.Status500InternalServerError, "Internal server error", "An unexpected error occurred; it has been logged."),
        };

        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            // expected while PostgreSQL is away: one line, no stack trace
            logger.LogWarning("Request {Method} {Path} answered 503: {Reason}", httpContext.Request.Method, httpContext.Request.Path, exception.Message);
        }
        else if (status >= 500)
        {
            logger.LogError(exception, "Request {Method} {Path} failed with {Status}", httpContext.Request.Method, httpContext.Request.Path, status);
        }

        if (status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
        }

        httpContext.Response.StatusCode = status;
        var problem = FieldOf(exception) is { } field
            ? new Microsoft.AspNetCore.Http.HttpValidationProblemDetails(new Dictionary<string, string[]> { [field.Name] = [field.Message] })
            {
                Status = status, Title = "Invalid request", Detail = field.Message,
            }
            : new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail };
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, Exception = exception, ProblemDetails = problem });
    }

    /// <summary>The field a binding failure is about: a JSON body value of the wrong type or out of range
    /// (System.Text.Json's path, <c>$.progress_percent</c>), or a query or route value that is not of the
    /// parameter's type (ASP.NET's "Failed to bind parameter "int? limit" from "abc"").</summary>
    private static (string Name, string Message)? FieldOf(Exception exception)
    {
        if (exception is not BadHttpRequestException bad)
        {
            return null;
        }

        if (bad.InnerException is System.Text.Json.JsonException { Path: { Length: > 2 } path } && path.StartsWith("$.", StringComparison.Ordinal))
        {
            var field = path[2..];
            return (field, $"{field} is not of the expected type or is out of range (a string, a whole number, true/false as the API says).");
        }

        if (BoundParameter().Match(bad.Message) is not { Success: true } match)
        {
            return null;
        }

        // the message names the C# parameter (beforeId); the API's names are snake_case (before_id)
        var name = System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(match.Groups["name"].Value);
        return (name, $"{name} must be a {Describe(match.Groups["type"].Value)}, not '{match.Groups["value"].Value}'.");
    }

    private static string Describe(string type) => type.Replace("Nullable<", "", StringComparison.Ordinal).TrimEnd('?', '>') switch
    {
        "int" or "long" or "Int32" or "Int64" => "whole number",
        "bool" or "Boolean" => "true or false",
        var other => other,
    };

    [GeneratedRegex("""^Failed to bind parameter "(?<type>[^ "]+) (?<name>[^"]+)" from "(?<value>[^"]*)"\.""")]
    private static partial Regex BoundParameter();
}

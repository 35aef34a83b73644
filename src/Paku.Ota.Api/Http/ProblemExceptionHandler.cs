using Microsoft.AspNetCore.Diagnostics;
using Npgsql;

namespace Paku.Ota.Api.Http;

/// <summary>The one global handler: bad requests the framework rejects become 400s that say why,
/// an unreachable database becomes 503 with Retry-After, anything else a 500 without internals.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
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
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>Recognises the failures that mean "PostgreSQL is not there right now".</summary>
public static class DatabaseUnavailable
{
    public static bool Is(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } => true,
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or TimeoutException or IOException } => true,
        PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" } => true,
        TimeoutException => true,
        _ when exception.InnerException is { } inner => Is(inner),
        _ => false,
    };
}

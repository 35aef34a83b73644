using Paku.Ota.Application.Common;

namespace Paku.Ota.Api.Http;

/// <summary>The one place where use-case outcomes become HTTP: success → the given response,
/// each expected error kind → its status with a problem+json that says what was wrong.</summary>
public static class ResultMapping
{
    public static IResult ToHttp<T>(this Result<T> result, Func<T, IResult> onSuccess) =>
        result.IsSuccess ? onSuccess(result.Value) : result.Error!.ToProblem();

    public static IResult ToProblem(this Error error)
    {
        var status = error.Kind switch
        {
            ErrorKind.Validation => StatusCodes.Status400BadRequest,
            ErrorKind.NotFound => StatusCodes.Status404NotFound,
            ErrorKind.Gone => StatusCodes.Status410Gone,
            ErrorKind.Conflict => StatusCodes.Status409Conflict,
            ErrorKind.Forbidden => StatusCodes.Status403Forbidden,
            ErrorKind.Unprocessable => StatusCodes.Status422UnprocessableEntity,
            ErrorKind.Unavailable => StatusCodes.Status503ServiceUnavailable,
            _ => StatusCodes.Status500InternalServerError,
        };
        if (error.Fields is { Count: > 0 } fields)
        {
            return Results.ValidationProblem(
                fields.ToDictionary(f => f.Key, f => f.Value),
                detail: error.Detail,
                title: error.Title,
                statusCode: status);
        }

        return Results.Problem(detail: error.Detail, title: error.Title, statusCode: status);
    }
}

using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Text;

namespace Paku.Ota.Api.Http;

/// <summary>Refuses a request whose query or route values hold text that could not be stored
/// (<c>%00</c> decodes to U+0000, see <see cref="StorableText"/>) with 400 naming the parameter, before
/// any endpoint sees it: every parameter of every endpoint, whatever it is used for. JSON bodies are
/// checked the same way by <see cref="JsonText"/>.</summary>
public sealed class RequestTextMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (Unstorable(context.Request) is { } error)
        {
            await error.ToProblem().ExecuteAsync(context);
            return;
        }

        await next(context);
    }

    private static Error? Unstorable(HttpRequest request)
    {
        foreach (var (name, values) in request.Query)
        {
            var field = StorableText.Printable(name);
            if (!StorableText.IsValid(name, out var error))
            {
                return Error.Validation(field, $"The query parameter name '{field}' {error}.");
            }

            foreach (var value in values)
            {
                if (!StorableText.IsValid(value, out error))
                {
                    return Error.Validation(field, $"{field} {error}.");
                }
            }
        }

        foreach (var (name, value) in request.RouteValues)
        {
            if (value is string text && !StorableText.IsValid(text, out var error))
            {
                return Error.Validation(name, $"{name} {error}.");
            }
        }

        return null;
    }
}

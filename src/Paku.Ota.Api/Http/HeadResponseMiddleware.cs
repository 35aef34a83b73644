namespace Paku.Ota.Api.Http;

/// <summary>A response to HEAD carries no body, whoever writes it: an error answered with problem+json
/// to a HEAD request would otherwise put a body on the wire, which HTTP/2 punishes by resetting the
/// stream (PROTOCOL_ERROR) instead of delivering the status.</summary>
public sealed class HeadResponseMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Response.Body = Stream.Null;
        }

        return next(context);
    }
}

using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Paku.Ota.Api.Http;

/// <summary>
/// The service's two faces. The device listener (HTTPS with client certificates, on every interface)
/// serves the device API and /health only. The admin listener (the plain HTTP port, loopback by
/// default) serves the admin API, /metrics and /openapi, and /health; it also takes device calls, which
/// arrive there only through a trusted TLS-terminating proxy (the forwarded certificate) or, in the
/// development profile, as plain HTTP. An endpoint asked for on the wrong face is not found there.
/// </summary>
public static class Listeners
{
    private const string FaceItem = "paku.listener.face";

    public enum Face
    {
        Device,
        Admin,
    }

    /// <summary>Marks an endpoint as part of the admin surface (admin API, metrics, OpenAPI).</summary>
    public sealed class AdminSurface;

    /// <summary>Marks the Prometheus scrape endpoint, which may require a bearer token.</summary>
    public sealed class MetricsScrape;

    /// <summary>Tags every connection of a listener with its face.</summary>
    public static ListenOptions Serves(this ListenOptions listen, Face face)
    {
        listen.Use(next => connection =>
        {
            connection.Items[FaceItem] = face;
            return next(connection);
        });
        return listen;
    }

    public static TBuilder AdminSurfaceOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new AdminSurface());

    /// <summary>The face of the listener the request came in on; null when it came in another way
    /// (the in-memory test server), which sees both.</summary>
    public static Face? FaceOf(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(FaceItem, out var face) == true ? face as Face? : null;

    /// <summary>Answers 404 for an endpoint asked for on the face that does not serve it, and 401 for a
    /// scrape of /metrics without the bearer token when <c>Ota:Metrics:BearerToken</c> is set.</summary>
    public sealed class FaceMiddleware(RequestDelegate next, IConfiguration configuration)
    {
        private readonly byte[]? _metricsToken = configuration["Ota:Metrics:BearerToken"] is { Length: > 0 } token
            ? SHA256.HashData(Encoding.UTF8.GetBytes(token))
            : null;

        public async Task InvokeAsync(HttpContext context)
        {
            var metadata = context.GetEndpoint()?.Metadata;
            if (metadata?.GetMetadata<AdminSurface>() is not null && FaceOf(context) == Face.Device)
            {
                await Problems.WriteAsync(context, StatusCodes.Status404NotFound, "Not found",
                    $"There is no {context.Request.Path} on this listener.");
                return;
            }

            if (_metricsToken is not null && metadata?.GetMetadata<MetricsScrape>() is not null && !HasToken(context.Request))
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await Problems.WriteAsync(context, StatusCodes.Status401Unauthorized, "Unauthorized",
                    "/metrics needs the bearer token configured in Ota:Metrics:BearerToken (Authorization: Bearer …).");
                return;
            }

            await next(context);
        }

        private bool HasToken(HttpRequest request)
        {
            var header = request.Headers.Authorization.ToString();
            const string scheme = "Bearer ";
            return header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
                && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim())), _metricsToken);
        }
    }
}

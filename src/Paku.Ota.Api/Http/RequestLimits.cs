using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Paku.Ota.Api.Http;

/// <summary><c>Ota:RequestLimits</c>: the largest request target, header block and device request body the
/// service takes. Past them a request is refused with problem+json naming the limit.</summary>
public sealed class RequestLimitOptions
{
    /// <summary>Bytes of the request target (path and query).</summary>
    public int MaxUrlBytes { get; set; } = 8192;

    /// <summary>Bytes of all header names and values together.</summary>
    public int MaxHeaderBytes { get; set; } = 32768;

    public int MaxHeaderCount { get; set; } = 100;

    /// <summary>Bytes of a device call's body (a status report is a few hundred bytes). Admin uploads have
    /// their own limit, Ota:Upload:MaxBytes.</summary>
    public int MaxDeviceBodyBytes { get; set; } = 65536;
}

/// <summary>
/// Kestrel answers a request line or header block past its own limits before the application runs, with an
/// empty body (and for a malformed request line or header, 400 with an empty body: nothing of the request
/// reaches the application). So Kestrel's limits are set to twice the configured ones, and this middleware
/// enforces the configured limits with problem+json that names them: a request between the two gets 414 or
/// 431 problem+json; only one past twice the limit gets Kestrel's bare answer. A device call's body past
/// <see cref="RequestLimitOptions.MaxDeviceBodyBytes"/> is refused 413 by Kestrel as it is read, which the one
/// exception handler turns into problem+json.
/// </summary>
public sealed class RequestLimitsMiddleware(RequestDelegate next, RequestLimitOptions limits)
{
    /// <summary>Marks an endpoint whose body is held to <see cref="RequestLimitOptions.MaxDeviceBodyBytes"/>.</summary>
    public sealed class DeviceBody;

    /// <summary>Kestrel's own limits: twice the configured ones (the request line also holds the method and
    /// the protocol version).</summary>
    public static void ApplyTo(KestrelServerLimits kestrel, RequestLimitOptions limits)
    {
        if (limits.MaxUrlBytes < 256 || limits.MaxHeaderBytes < 1024 || limits.MaxHeaderCount < 8 || limits.MaxDeviceBodyBytes < 1024)
        {
            throw new InvalidOperationException(
                "Ota:RequestLimits needs MaxUrlBytes >= 256, MaxHeaderBytes >= 1024, MaxHeaderCount >= 8 and MaxDeviceBodyBytes >= 1024.");
        }

        kestrel.MaxRequestLineSize = (2 * limits.MaxUrlBytes) + 64;
        kestrel.MaxRequestHeadersTotalSize = 2 * limits.MaxHeaderBytes;
        kestrel.MaxRequestHeaderCount = 2 * limits.MaxHeaderCount;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? (context.Request.Path + context.Request.QueryString).ToString();
        if (target.Length > limits.MaxUrlBytes)
        {
            return Refuse(context, StatusCodes.Status414UriTooLong, "URI too long",
                $"The request target (path and query) is {Count(target.Length)} bytes; the limit is {Count(limits.MaxUrlBytes)} (Ota:RequestLimits:MaxUrlBytes).");
        }

        var headers = context.Request.Headers;
        if (headers.Count > limits.MaxHeaderCount)
        {
            return Refuse(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "Request header fields too large",
                $"The request has {Count(headers.Count)} header fields; the limit is {Count(limits.MaxHeaderCount)} (Ota:RequestLimits:MaxHeaderCount).");
        }

        var headerBytes = 0;
        foreach (var (name, values) in headers)
        {
            headerBytes += name.Length;
            foreach (var value in values)
            {
                headerBytes += value?.Length ?? 0;
            }
        }

        if (headerBytes > limits.MaxHeaderBytes)
        {
            return Refuse(context, StatusCodes.Status431RequestHeaderFieldsTooLarge, "Request header fields too large",
                $"The request's header fields hold {Count(headerBytes)} bytes; the limit is {Count(limits.MaxHeaderBytes)} (Ota:RequestLimits:MaxHeaderBytes).");
        }

        if (context.GetEndpoint()?.Metadata.GetMetadata<DeviceBody>() is not null
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } body)
        {
            body.MaxRequestBodySize = limits.MaxDeviceBodyBytes;
        }

        return next(context);
    }

    /// <summary>The detail of a 413 that the framework answered without one (a body read past its limit).</summary>
    public static string BodyTooLarge(HttpContext context)
    {
        var max = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        var setting = context.GetEndpoint()?.Metadata.GetMetadata<DeviceBody>() is not null ? " (Ota:RequestLimits:MaxDeviceBodyBytes)" : "";
        return max is { } limit
            ? $"The request body is larger than the limit of {Count((int)Math.Min(limit, int.MaxValue))} bytes{setting}."
            : "The request body is larger than the limit.";
    }

    private static Task Refuse(HttpContext context, int status, string title, string detail)
    {
        // the rest of an oversized request is not worth reading: answer and close the connection (HTTP/1.x;
        // HTTP/2 has no connection header, and a refused stream does not hold the connection)
        if (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            context.Response.Headers.Connection = "close";
        }

        return Problems.WriteAsync(context, status, title, detail);
    }

    private static string Count(int value) => value.ToString("N0", CultureInfo.InvariantCulture);
}

using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;
using Paku.Ota.Api.Http;
using Paku.Ota.Api.Security;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Devices.CheckForUpdate;
using Paku.Ota.Application.Devices.ReportUpdateStatus;
using Paku.Ota.Application.Firmware.Artifacts;
using Paku.Ota.Application.Firmware.GetFirmwareBinary;

namespace Paku.Ota.Api.Endpoints;

/// <summary>The three device endpoints of the seed's contract. They bind, send and map; rules live
/// in the use cases.</summary>
public static class DeviceEndpoints
{
    public static void MapDeviceEndpoints(this IEndpointRouteBuilder app)
    {
        // the first filter added is the outermost: the outcome filter sees refusals by the others too
        app.MapGet("/api/firmware/check", CheckAsync)
            .AddEndpointFilter<CheckOutcomeFilter>()
            .AddEndpointFilter(new DeviceIdentityFilter(c => c.HttpContext.Request.Query["device_id"].FirstOrDefault()))
            .AddEndpointFilter(new RateLimitFilter(c => c.HttpContext.Request.Query["device_id"].FirstOrDefault()))
            .WithName("CheckForUpdate").WithTags("Device");

        app.MapMethods("/api/firmware/download/{version}", [HttpMethods.Get, HttpMethods.Head], DownloadAsync)
            .AddEndpointFilter(new DeviceIdentityFilter(c => c.HttpContext.Request.Query["device_id"].FirstOrDefault()))
            .WithName("DownloadFirmware").WithTags("Device");

        app.MapPost("/api/device/{device_id}/update-status", ReportAsync)
            .AddEndpointFilter(new DeviceIdentityFilter(c => c.HttpContext.Request.RouteValues["device_id"] as string))
            .AddEndpointFilter(new RateLimitFilter(c => c.HttpContext.Request.RouteValues["device_id"] as string))
            .WithName("ReportUpdateStatus").WithTags("Device");
    }

    private static async Task<IResult> CheckAsync(
        [FromQuery(Name = "device_id")] string? deviceId,
        [FromQuery(Name = "device_model")] string? deviceModel,
        [FromQuery(Name = "current_version")] string? currentVersion,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new CheckForUpdate(deviceId, deviceModel, currentVersion), cancellationToken);
        return result.ToHttp(answer => Results.Ok(answer));
    }

    private static async Task<IResult> DownloadAsync(
        string version,
        [FromQuery(Name = "device_model")] string? deviceModel,
        HttpContext http,
        IMediator mediator,
        DownloadGate gate,
        DownloadOptions options,
        CancellationToken cancellationToken)
    {
        var deviceId = http.Items[DeviceAuthentication.DeviceIdItem] as string;

        // a download without a device identity (plain HTTP in development) counts against its address
        var holder = deviceId ?? $"address {http.Connection.RemoteIpAddress}";
        var refusal = gate.TryEnter(holder);
        if (refusal != DownloadGate.Refusal.None)
        {
            http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return refusal == DownloadGate.Refusal.DeviceBusy
                ? Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many downloads",
                    detail: $"{(deviceId is null ? "This client" : $"Device '{deviceId}'")} already has {options.MaxPerDevice} firmware downloads " +
                            $"in progress (Ota:Downloads:MaxPerDevice); finish or close one, or retry in {options.RetryAfterSeconds} seconds.")
                : Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Busy",
                    detail: $"Too many firmware downloads are in progress; retry in {options.RetryAfterSeconds} seconds.");
        }

        ImageLease? image = null;
        try
        {
            var result = await mediator.Send(new GetFirmwareBinary(version, deviceModel, deviceId), cancellationToken);
            if (!result.IsSuccess)
            {
                gate.Exit(holder);
                return result.Error!.ToProblem();
            }

            var binary = result.Value;
            http.Response.Headers["X-Checksum-SHA256"] = binary.ChecksumSha256;
            if (binary.OffloadedTo is { } link)
            {
                // the file server sends the bytes: no slot is held here, and the link is the device's alone
                gate.Exit(holder);
                http.Response.Headers.CacheControl = "no-store";
                return Results.Redirect(link.AbsoluteUri);
            }

            image = binary.Image!;
            var length = image.Content.Length;

            // only byte ranges exist here; a Range in another unit is ignored (RFC 9110 14.2): the whole image
            if (http.Request.Headers.Range is { Count: > 0 } range && !range.ToString().TrimStart().StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
            {
                http.Request.Headers.Remove(HeaderNames.Range);
            }

            if (Unsatisfiable(http.Request, length) is { } unsatisfiable)
            {
                image.Dispose();
                gate.Exit(holder);
                http.Response.Headers.ContentRange = $"bytes */{length}";
                return Results.Problem(statusCode: StatusCodes.Status416RangeNotSatisfiable, title: "Range not satisfiable",
                    detail: $"The image of {binary.Model} {binary.Version} has {length} bytes; the Range '{unsatisfiable}' asks for none of them. " +
                            "Start the download again without a Range.");
            }

            // the response reads the shared copy of the image; the lease ends when it has been written
            return gate.Hold(Results.Bytes(
                image.Content,
                "application/octet-stream",
                fileDownloadName: $"{binary.Model}-{binary.Version}.bin",
                enableRangeProcessing: true,
                entityTag: new EntityTagHeaderValue($"\"{binary.ChecksumSha256}\"")), holder, image);
        }
        catch
        {
            image?.Dispose();
            gate.Exit(holder);
            throw;
        }
    }

    /// <summary>The Range header when it is one well-formed byte range that lies wholly past the image
    /// (the file result would answer 416 with an empty body); null otherwise, when the file result
    /// serves the range, or the whole image for what it ignores (several ranges, If-Range, bad syntax).</summary>
    private static string? Unsatisfiable(HttpRequest request, long length)
    {
        var text = request.Headers.Range.ToString();
        if (text.Length == 0 || request.Headers.IfRange.Count > 0 ||
            !RangeHeaderValue.TryParse(text, out var parsed) || parsed.Ranges.Count != 1)
        {
            return null;
        }

        var only = parsed.Ranges.First();
        var satisfiable = only.From is { } from ? from < length : only.To > 0 && length > 0;
        return satisfiable ? null : text;
    }

    private static async Task<IResult> ReportAsync(
        [FromRoute(Name = "device_id")] string deviceId,
        [FromBody] StatusReportBody? body,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var command = new ReportUpdateStatus(deviceId, body?.DeviceId, body?.FirmwareVersion, body?.Status, body?.ProgressPercent, body?.ErrorMessage);
        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(receipt => Results.Ok(receipt));
    }

    /// <summary>The seed's status body; every field optional here so that a missing one is reported
    /// by name by the validator rather than as a generic binding error.</summary>
    public sealed record StatusReportBody(string? DeviceId, string? FirmwareVersion, string? Status, int? ProgressPercent, string? ErrorMessage);

    /// <summary>Refuses a device past its request budget with 429 and Retry-After.</summary>
    private sealed class RateLimitFilter(Func<EndpointFilterInvocationContext, string?> deviceId) : IEndpointFilter
    {
        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            var id = http.Items[DeviceAuthentication.DeviceIdItem] as string ?? deviceId(context);
            if (id is null)
            {
                return next(context);
            }

            var retryAfter = http.RequestServices.GetRequiredService<DeviceRateLimiter>().Hit(id);
            if (retryAfter == 0)
            {
                return next(context);
            }

            http.Response.Headers.RetryAfter = retryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ValueTask.FromResult<object?>(Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                detail: $"Device '{id}' made too many requests; retry in {retryAfter} seconds."));
        }
    }

    /// <summary>Counts checks that never reached the use case (rejected or rate-limited); the use case
    /// counts the rest. The model label is used only for models the catalog knows, so labels stay bounded.</summary>
    private sealed class CheckOutcomeFilter(OtaMetrics metrics, ICatalog catalog) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var result = await next(context);
            var status = (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK;
            if (status < 400)
            {
                return result;
            }

            var model = context.HttpContext.Request.Query["device_model"].FirstOrDefault();
            var snapshot = await catalog.CurrentAsync(context.HttpContext.RequestAborted);
            var label = model is not null && snapshot.AllCandidatesFor(model).Count > 0 ? model : "other";
            metrics.Checked(label, status == StatusCodes.Status429TooManyRequests ? "rate_limited" : "rejected");
            return result;
        }
    }
}

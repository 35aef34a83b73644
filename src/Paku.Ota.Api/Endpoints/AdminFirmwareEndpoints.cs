using System.Text.Json;
using Mediator;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Paku.Ota.Api.Http;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.GetRelease;
using Paku.Ota.Application.Firmware.ListReleases;
using Paku.Ota.Application.Firmware.UploadRelease;
using Paku.Ota.Application.Firmware.WithdrawRelease;

namespace Paku.Ota.Api.Endpoints;

/// <summary>Firmware releases under /api/admin/firmware: upload (the seed's query parameters and
/// multipart 'file'), list, look up, withdraw. The handlers bind, send and map; the upload's binding
/// streams the multipart body itself so that ASP.NET never buffers a whole image.</summary>
public static class AdminFirmwareEndpoints
{
    public static RouteGroupBuilder MapAdminFirmwareEndpoints(this RouteGroupBuilder admin)
    {
        var firmware = admin.MapGroup("/firmware");
        firmware.MapPost("/upload", UploadAsync).AdminWrite("firmware.upload").WithName("UploadFirmware")
            .ReadsForm<UploadFirmwareForm>().Produces<ReleaseRecord>(StatusCodes.Status201Created).Refuses(400, 409, 413, 422);
        firmware.MapGet("/releases", ListAsync).WithName("ListReleases").Produces<ReleaseList>().Refuses(400);
        firmware.MapGet("/releases/{device_model}/{version}", GetAsync).WithName("GetRelease").Produces<ReleaseRecord>().Refuses(400, 404);
        firmware.MapPost("/releases/{device_model}/{version}/withdraw", WithdrawAsync).AdminWrite("firmware.withdraw").WithName("WithdrawRelease")
            .Reads<WithdrawReleaseBody>("""{"reason": "boot loop on rev-B boards"}""", optional: true).Produces<Withdrawal>().Refuses(400, 404, 409);
        return admin;
    }

    private static async Task<IResult> UploadAsync(
        [FromQuery(Name = "version")] string? version,
        [FromQuery(Name = "device_model")] string? deviceModel,
        [FromQuery(Name = "min_version")] string? minVersion,
        [FromQuery(Name = "changelog")] string? changelog,
        [FromQuery(Name = "release_notes")] string? releaseNotes,
        [FromQuery(Name = "is_signed")] string? isSigned,
        [FromQuery(Name = "skip_image_check")] string? skipImageCheck,
        HttpContext http,
        IMediator mediator,
        UploadOptions options,
        CancellationToken cancellationToken)
    {
        var form = await UploadForm.ReadAsync(http, options.MaxBytes, cancellationToken);
        if (form.Error is { } invalid)
        {
            return invalid.ToProblem();
        }

        var command = new UploadRelease(version, deviceModel, minVersion, changelog, releaseNotes, isSigned, skipImageCheck,
            form.File, form.Signature, http.User.Identity?.Name);
        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(release => Results.Created(LocationOf(release), release));
    }

    private static async Task<IResult> ListAsync(
        [FromQuery(Name = "device_model")] string? deviceModel,
        [FromQuery(Name = "limit")] string? limit,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListReleases(deviceModel, limit), cancellationToken);
        return result.ToHttp(releases => Results.Ok(new ReleaseList(releases)));
    }

    private static async Task<IResult> GetAsync(
        [FromRoute(Name = "device_model")] string deviceModel,
        [FromRoute(Name = "version")] string version,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetRelease(deviceModel, version), cancellationToken);
        return result.ToHttp(release => Results.Ok(release));
    }

    private static async Task<IResult> WithdrawAsync(
        [FromRoute(Name = "device_model")] string deviceModel,
        [FromRoute(Name = "version")] string version,
        HttpContext http,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var body = await WithdrawBody.ReadAsync(http, cancellationToken);
        if (body.Error is { } invalid)
        {
            return invalid.ToProblem();
        }

        var result = await mediator.Send(new WithdrawRelease(deviceModel, version, body.Reason), cancellationToken);
        return result.ToHttp(withdrawal => Results.Ok(withdrawal));
    }

    public sealed record ReleaseList(IReadOnlyList<ReleaseRecord> Releases);

    /// <summary>The upload's parts: the image, and its signature (raw or base64 output of
    /// <c>openssl dgst -sha256 -sign</c>) when the release is signed.</summary>
    public sealed record UploadFirmwareForm(IFormFile File, IFormFile? Signature = null);

    /// <summary>The optional body of a withdrawal (empty is fine): why, for the audit log.</summary>
    public sealed record WithdrawReleaseBody(string? Reason = null);

    private static string LocationOf(ReleaseRecord release) =>
        $"/api/admin/firmware/releases/{Uri.EscapeDataString(release.DeviceModel)}/{Uri.EscapeDataString(release.Version)}";

    private static string Shown(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");

    /// <summary>The upload's multipart body: part 'file' (the image) and optionally part 'signature'.
    /// Read section by section straight from the request; the image is hashed while it is copied and
    /// reading stops one byte past the limit.</summary>
    private sealed record UploadForm(UploadedImage? File, byte[]? Signature, Error? Error)
    {
        /// <summary>Room beyond the image for the multipart framing, headers and the signature part.</summary>
        private const long BodySlackBytes = 1024 * 1024;

        /// <summary>A signature is at most 512 bytes (RSA-4096), about 700 in base64 with line breaks.</summary>
        private const int MaxSignaturePartBytes = 4096;

        private const string FilePart = "file";
        private const string SignaturePart = "signature";
        private const string HowToSend = "send the image as multipart/form-data part 'file' (curl -F file=@firmware.bin)";

        public static async Task<UploadForm> ReadAsync(HttpContext http, long maxBytes, CancellationToken cancellationToken)
        {
            // Kestrel's own cap (30 MB by default) must neither refuse a valid image nor answer before
            // the service can say what is wrong; the image limit itself is enforced while reading.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            {
                bodySize.MaxRequestBodySize = maxBytes + BodySlackBytes;
            }

            var request = http.Request;
            if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
                || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            {
                var sent = request.ContentType is null ? "the request has no Content-Type" : $"its Content-Type is '{Shown(request.ContentType)}'";
                return Fail(FilePart, $"The body must be multipart/form-data: {HowToSend}; {sent}.");
            }

            var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
            if (string.IsNullOrEmpty(boundary) || boundary.Length > 70)
            {
                return Fail(FilePart, "The multipart/form-data Content-Type needs a boundary parameter of 1 to 70 characters.");
            }

            var reader = new MultipartReader(boundary, request.Body) { HeadersLengthLimit = 16 * 1024, BodyLengthLimit = maxBytes + BodySlackBytes };
            UploadedImage? file = null;
            byte[]? signature = null;
            try
            {
                while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
                {
                    if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                        || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                        || HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { Length: > 0 } name)
                    {
                        return Fail(FilePart, "A multipart part has no 'Content-Disposition: form-data; name=\"...\"' header.");
                    }

                    switch (name)
                    {
                        case FilePart when file is not null:
                            return Fail(FilePart, "The body has more than one 'file' part; upload one image at a time.");
                        case FilePart:
                            file = await UploadedImage.ReadAsync(section.Body, maxBytes, request.ContentLength, cancellationToken);
                            if (file.ExceedsLimit)
                            {
                                return new UploadForm(file, signature, null); // no need to read on: the use case refuses it
                            }

                            break;
                        case SignaturePart when signature is not null:
                            return Fail(SignaturePart, "The body has more than one 'signature' part.");
                        case SignaturePart:
                            signature = await ReadSmallAsync(section.Body, MaxSignaturePartBytes, cancellationToken);
                            if (signature is null)
                            {
                                return Fail(SignaturePart,
                                    $"The 'signature' part is larger than {MaxSignaturePartBytes} bytes; a signature is the raw output of " +
                                    "openssl dgst -sha256 -sign (at most 512 bytes), or that in base64.");
                            }

                            break;
                        default:
                            return Fail(FilePart, $"Unexpected multipart part '{Shown(name)}': {HowToSend} and, optionally, its signature as part 'signature'.");
                    }
                }
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return Fail(FilePart, $"The request body is larger than an upload may be: the image limit is {maxBytes} bytes (Ota:Upload:MaxBytes).");
            }
            catch (BadHttpRequestException e)
            {
                return Fail(FilePart, $"The request body could not be read: {e.Message.Trim()}");
            }
            catch (InvalidDataException e)
            {
                return Fail(FilePart, $"The multipart body is malformed: {e.Message.Trim()}");
            }
            catch (IOException e)
            {
                return Fail(FilePart, $"The multipart body is incomplete (it must end with the closing boundary): {e.Message.Trim()}");
            }

            return new UploadForm(file, signature, null);
        }

        private static async Task<byte[]?> ReadSmallAsync(Stream source, int max, CancellationToken cancellationToken)
        {
            var buffer = new byte[max + 1];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await source.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
            {
                length += read;
            }

            return length > max ? null : buffer[..length];
        }

        private static UploadForm Fail(string field, string message) => new(null, null, Error.Validation(field, message));
    }

    /// <summary>The optional withdraw body <c>{"reason": "..."}</c>, read by hand so that every way it can
    /// be wrong is answered with what was wrong (and audited like any refused write).</summary>
    private sealed record WithdrawBody(string? Reason, Error? Error)
    {
        private const int MaxBodyBytes = 64 * 1024;
        private const string Shape = "{\"reason\": \"...\"}";

        public static async Task<WithdrawBody> ReadAsync(HttpContext http, CancellationToken cancellationToken)
        {
            var request = http.Request;
            byte[] content;
            try
            {
                content = await ReadAllAsync(request.Body, cancellationToken);
                if (content.Length > MaxBodyBytes)
                {
                    return Fail("body", $"The body is larger than {MaxBodyBytes} bytes; it is at most {Shape}.");
                }
            }
            catch (Exception e) when (e is BadHttpRequestException or IOException)
            {
                return Fail("body", $"The request body could not be read: {e.Message.Trim()}");
            }

            if (content.Length == 0)
            {
                return new WithdrawBody(null, null);
            }

            if (!request.HasJsonContentType())
            {
                return Fail("body", $"The body must be JSON ({Shape}) with Content-Type application/json, or empty.");
            }

            try
            {
                using var document = JsonDocument.Parse(content, new JsonDocumentOptions { MaxDepth = 8 });
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    return Fail("body", $"The body must be a JSON object ({Shape}), not {Kind(root.ValueKind)}.");
                }

                if (JsonText.Check(content) is { } unreadable)
                {
                    return new WithdrawBody(null, unreadable);
                }

                string? reason = null;
                foreach (var property in root.EnumerateObject())
                {
                    if (property.Name != "reason")
                    {
                        return Fail(property.Name, $"Unknown field '{Shown(property.Name)}': the body may hold only 'reason' ({Shape}).");
                    }

                    if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                    {
                        return Fail("reason", $"reason must be a string, not {Kind(property.Value.ValueKind)}.");
                    }

                    reason = property.Value.GetString();
                }

                return new WithdrawBody(reason, null);
            }
            catch (JsonException e)
            {
                return Fail("body", $"The body is not valid JSON: {e.Message.Trim()}");
            }
        }

        private static async Task<byte[]> ReadAllAsync(Stream source, CancellationToken cancellationToken)
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[8192];
            int read;
            while ((read = await source.ReadAsync(chunk, cancellationToken)) > 0)
            {
                buffer.Write(chunk, 0, read);
                if (buffer.Length > MaxBodyBytes)
                {
                    break;
                }
            }

            return buffer.ToArray();
        }

        private static string Kind(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.String => "a string",
            JsonValueKind.Null => "null",
            _ => kind.ToString().ToLowerInvariant(),
        };

        private static WithdrawBody Fail(string field, string message) => new(null, Error.Validation(field, message));
    }
}

using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.ListReleases;
using Paku.Ota.Application.Firmware.UploadRelease;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>Releases, newest first, and the upload form (the same use case as POST /api/admin/firmware/upload).</summary>
[RequestSizeLimit(MaxFormBytes + (1024 * 1024))]
[RequestFormLimits(MultipartBodyLengthLimit = MaxFormBytes + (1024 * 1024))]
public sealed class ReleasesModel(IMediator mediator, ConsoleActions actions, UploadOptions limits, TimeProvider time) : PageModel
{
    /// <summary>The console reads an upload form whole; larger images go through the API, which streams.</summary>
    public const long MaxFormBytes = 64L * 1024 * 1024;

    public IReadOnlyList<ReleaseRecord> Releases { get; private set; } = [];

    public IReadOnlyList<string> Models => [.. Releases.Select(r => r.DeviceModel).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public UploadForm Form { get; private set; } = new();

    public DateTimeOffset Now => time.GetUtcNow();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostAsync(
        [FromForm] UploadForm form, IFormFile? file, IFormFile? signature, CancellationToken cancellationToken)
    {
        Form = form;
        var errors = new List<string>();
        UploadedImage? image = null;
        if (file is null || file.Length == 0)
        {
            errors.Add("Choose the firmware image file to upload.");
        }
        else
        {
            await using var stream = file.OpenReadStream();
            image = await UploadedImage.ReadAsync(stream, limits.MaxBytes, file.Length, cancellationToken);
        }

        byte[]? signatureBytes = null;
        if (signature is { Length: > 0 })
        {
            if (signature.Length > 4096)
            {
                errors.Add("The signature file is larger than 4096 bytes; choose the output of openssl dgst -sha256 -sign.");
            }
            else
            {
                using var buffer = new MemoryStream();
                await signature.CopyToAsync(buffer, cancellationToken);
                signatureBytes = buffer.ToArray();
            }
        }

        if (errors.Count == 0)
        {
            var command = new UploadRelease(Blank(form.Version), Blank(form.DeviceModel), Blank(form.MinVersion), null, Blank(form.ReleaseNotes),
                null, form.SkipImageCheck ? "true" : null, image, signatureBytes, User.Identity?.Name);
            var target = $"{form.DeviceModel}/{form.Version}";
            var result = await actions.RunAsync(command, "firmware.upload", target, cancellationToken);
            if (result.IsSuccess)
            {
                TempData["Flash"] = $"Release {result.Value.Version} for {result.Value.DeviceModel} uploaded ({Show.Bytes(result.Value.SizeBytes)}" +
                    (result.Value.IsSigned ? $", signature verified with key {result.Value.SigningKeyId})." : ", unsigned).");
                return Redirect("/console/releases");
            }

            errors.AddRange(ConsoleActions.Messages(result.Error!));
            Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
        }
        else
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        Errors = errors;
        await LoadAsync(cancellationToken);
        return Page();
    }

    private static string? Blank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private async Task LoadAsync(CancellationToken cancellationToken) =>
        Releases = (await mediator.Send(new ListReleases(null, "500"), cancellationToken)).Value;

    public sealed class UploadForm
    {
        [FromForm(Name = "device_model")]
        public string? DeviceModel { get; set; }

        [FromForm(Name = "version")]
        public string? Version { get; set; }

        [FromForm(Name = "min_version")]
        public string? MinVersion { get; set; }

        [FromForm(Name = "release_notes")]
        public string? ReleaseNotes { get; set; }

        [FromForm(Name = "skip_image_check")]
        public bool SkipImageCheck { get; set; }
    }
}

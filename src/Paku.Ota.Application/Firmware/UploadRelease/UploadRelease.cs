using System.Buffers;
using System.Globalization;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware.UploadRelease;

/// <summary>An admin uploads a firmware image as a new release of a device model. The text fields are
/// the query parameters as sent (the seed's names); <paramref name="File"/> and <paramref name="Signature"/>
/// are the multipart parts 'file' and 'signature' (null when absent); <paramref name="Actor"/> is the API key's name.</summary>
public sealed record UploadRelease(
    string? Version,
    string? DeviceModel,
    string? MinVersion,
    string? Changelog,
    string? ReleaseNotes,
    string? IsSigned,
    string? SkipImageCheck,
    UploadedImage? File,
    byte[]? Signature,
    string? Actor) : ICommand<Result<ReleaseRecord>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

/// <summary><c>Ota:Upload</c>.</summary>
public sealed class UploadOptions
{
    /// <summary>16 MiB: the largest flash an ESP32 has, so no app image can be larger.</summary>
    public const long DefaultMaxBytes = 16L * 1024 * 1024;

    /// <summary>Largest image accepted, in bytes.</summary>
    public long MaxBytes { get; set; } = DefaultMaxBytes;

    /// <summary>Throws with the reason when the setting cannot work (checked at start-up).</summary>
    public UploadOptions Validated()
    {
        const long ceiling = 1024L * 1024 * 1024;
        if (MaxBytes is < 1 or > ceiling)
        {
            throw new InvalidOperationException($"Ota:Upload:MaxBytes is {MaxBytes}; it must be from 1 to {ceiling} bytes.");
        }

        return this;
    }
}

/// <summary>The boolean query flags, read as the seed's FastAPI service read them.</summary>
public static class QueryFlag
{
    public const string Accepted = "true or false (also 1/0, yes/no, on/off)";

    /// <summary>False for an absent or empty flag.</summary>
    public static bool TryParse(string? text, out bool value)
    {
        switch (text?.ToLowerInvariant())
        {
            case null or "":
            case "false" or "0" or "no" or "off":
                value = false;
                return true;
            case "true" or "1" or "yes" or "on":
                value = true;
                return true;
            default:
                value = false;
                return false;
        }
    }
}

public sealed class UploadReleaseHandler(IReleaseStore releases, ISignatureVerifier verifier)
    : ICommandHandler<UploadRelease, Result<ReleaseRecord>>
{
    private const string HowToSign =
        "openssl dgst -sha256 -sign key.pem -out firmware.sig firmware.bin, sent as multipart part 'signature' (curl -F signature=@firmware.sig)";

    public async ValueTask<Result<ReleaseRecord>> Handle(UploadRelease command, CancellationToken cancellationToken)
    {
        var version = FirmwareVersion.Parse(command.Version!);
        var model = command.DeviceModel!;
        var file = command.File!;
        QueryFlag.TryParse(command.IsSigned, out var markedSigned);

        byte[]? signature = null;
        VerifiedSignature? verified = null;
        if (command.Signature is { } sent)
        {
            signature = SignatureText.Decode(sent);
            if (verifier.KeyIds.Count == 0)
            {
                return SignatureRefused("A signature was sent, but no signing key is configured (Ota:Signing:PublicKeys), so it cannot be verified.");
            }

            verified = verifier.Verify(file.Sha256Digest, signature);
            if (verified is null)
            {
                return SignatureRefused(
                    $"The signature does not verify with any configured key ({string.Join(", ", verifier.KeyIds)}): it was made with another key, " +
                    "for another file, or is not an RSA PKCS#1 v1.5 / ECDSA P-256 signature over SHA-256.");
            }
        }
        else if (markedSigned)
        {
            return SignatureRefused($"is_signed=true, but no signature was sent: add the output of {HowToSign}.");
        }
        else if (verifier.RequireSigned)
        {
            return SignatureRefused($"This service accepts signed firmware only (Ota:Signing:RequireSigned): add the output of {HowToSign}.");
        }

        var release = new NewRelease(
            version.ToString(),
            model,
            file.Sha256,
            file.Content,
            string.IsNullOrEmpty(command.MinVersion) ? null : FirmwareVersion.Parse(command.MinVersion).ToString(),
            string.IsNullOrEmpty(command.Changelog) ? null : command.Changelog,
            string.IsNullOrEmpty(command.ReleaseNotes) ? null : command.ReleaseNotes,
            verified is null ? null : signature,
            verified?.Algorithm,
            verified?.KeyId,
            command.Actor);
        var created = await releases.CreateAsync(release, cancellationToken);
        if (created is not null)
        {
            return created;
        }

        var existing = await releases.FindAsync(model, version, cancellationToken);
        var which = existing is null ? version.ToString() : existing.Version;
        var when = existing is null ? "" : $" (uploaded {existing.CreatedAt.ToString("u", CultureInfo.InvariantCulture)})";
        return Error.Conflict(
            $"Release {which} for device model '{model}' already exists{when}; a release is never replaced, so upload it as a new version. " +
            "Versions that differ only in build metadata (+...) are the same release.");
    }

    private static Error SignatureRefused(string detail) =>
        new(ErrorKind.Unprocessable, "Signature not accepted", detail, new Dictionary<string, string[]> { ["signature"] = [detail] });
}

/// <summary>The 'signature' part is the raw output of <c>openssl dgst -sign</c>, or that output in base64.</summary>
public static class SignatureText
{
    private static readonly SearchValues<byte> Base64Text =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t"u8);

    /// <summary>Raw signatures are binary and practically never consist of base64 characters only
    /// (a 71-byte ECDSA signature would have to hit 66 of 256 values 71 times), so text that decodes
    /// as base64 is base64.</summary>
    public static byte[] Decode(byte[] sent)
    {
        if (sent.Length == 0 || sent.AsSpan().ContainsAnyExcept(Base64Text))
        {
            return sent;
        }

        var text = System.Text.Encoding.ASCII.GetString(sent);
        var buffer = new byte[sent.Length];
        return Convert.TryFromBase64String(text, buffer, out var written) && written > 0 ? buffer[..written] : sent;
    }
}

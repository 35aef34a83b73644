using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Firmware;

/// <summary>A firmware release as the admin API shows it: its metadata, never its bytes.</summary>
public sealed record ReleaseRecord(
    long Id,
    string Version,
    string DeviceModel,
    string ChecksumSha256,
    long SizeBytes,
    string? MinVersion,
    string? Changelog,
    string? ReleaseNotes,
    bool IsSigned,
    byte[]? Signature,
    string? SignatureAlgorithm,
    string? SigningKeyId,
    string? CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? WithdrawnAt,
    string? WithdrawnReason);

/// <summary>What an upload stores: the image (by its SHA-256) and the release that offers it.</summary>
public sealed record NewRelease(
    string Version,
    string DeviceModel,
    string ChecksumSha256,
    ReadOnlyMemory<byte> Content,
    string? MinVersion,
    string? Changelog,
    string? ReleaseNotes,
    byte[]? Signature,
    string? SignatureAlgorithm,
    string? SigningKeyId,
    string? CreatedBy);

/// <summary>A withdrawal as stored: the release after it, and the active rollouts it paused.</summary>
public sealed record Withdrawal(ReleaseRecord Release, IReadOnlyList<string> PausedRollouts);

public interface IReleaseStore
{
    /// <summary>Stores the image (once per content) and the release in one transaction. Null when the
    /// model already has a release of the same precedence; then nothing was written.</summary>
    Task<ReleaseRecord?> CreateAsync(NewRelease release, CancellationToken cancellationToken);

    /// <summary>The release of the model whose version has the same SemVer precedence, if any.</summary>
    Task<ReleaseRecord?> FindAsync(string deviceModel, FirmwareVersion version, CancellationToken cancellationToken);

    /// <summary>Newest first: for one model by SemVer precedence, across models by creation time.</summary>
    Task<IReadOnlyList<ReleaseRecord>> ListAsync(string? deviceModel, int limit, CancellationToken cancellationToken);

    /// <summary>Marks the release withdrawn and pauses, with <paramref name="pauseReason"/>, every active
    /// rollout that offers it, in one transaction. Null when it was already withdrawn (nothing written).</summary>
    Task<Withdrawal?> WithdrawAsync(long releaseId, string? reason, string pauseReason, CancellationToken cancellationToken);
}

/// <summary>The algorithm names stored with a release and sent to devices in the check response;
/// the device component matches these exact strings.</summary>
public static class SignatureAlgorithms
{
    public const string RsaPkcs1Sha256 = "rsa-pkcs1v15-sha256";
    public const string EcdsaP256Sha256 = "ecdsa-p256-sha256";
}

/// <summary>Which configured key verified a signature, and with which algorithm.</summary>
public sealed record VerifiedSignature(string KeyId, string Algorithm);

/// <summary>The configured firmware signing keys (<c>Ota:Signing</c>).</summary>
public interface ISignatureVerifier
{
    /// <summary>Every upload must carry a valid signature (<c>Ota:Signing:RequireSigned</c>).</summary>
    bool RequireSigned { get; }

    /// <summary>The ids of the configured public keys; empty when none is configured.</summary>
    IReadOnlyList<string> KeyIds { get; }

    /// <summary>The key that verifies <paramref name="signature"/> over the image whose SHA-256 is
    /// <paramref name="sha256"/> (as <c>openssl dgst -sha256 -sign</c> makes it), or null when none does.</summary>
    VerifiedSignature? Verify(ReadOnlySpan<byte> sha256, ReadOnlySpan<byte> signature);
}

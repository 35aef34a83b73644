namespace Paku.Ota.Application.Firmware.Artifacts;

/// <summary>Where an image's bytes live; stored per image in <c>firmware_binaries.store</c>.</summary>
public enum ArtifactStoreKind
{
    /// <summary>In PostgreSQL, <c>firmware_binaries.content</c> (the default, as the service always did).</summary>
    PostgreSql,

    /// <summary>In a directory, one file per image named by its SHA-256 (<c>Ota:Artifacts:Directory</c>).</summary>
    Directory,
}

/// <summary>The stored bytes do not hash to the SHA-256 they are stored under: they are never served.</summary>
public sealed class CorruptArtifactException(string sha256, string where, string actualSha256)
    : Exception($"The image {sha256} in {where} is damaged: its bytes hash to {actualSha256}. It is not served; " +
                "restore it from a backup or upload the release again.")
{
    public string Sha256 { get; } = sha256;
}

/// <summary>One place image bytes are kept. Reads are verified against the SHA-256: a damaged image
/// throws <see cref="CorruptArtifactException"/> and is never returned.</summary>
public interface IArtifactStore
{
    ArtifactStoreKind Kind { get; }

    /// <summary>The image's bytes, verified; null when this store does not hold it.</summary>
    Task<byte[]?> ReadAsync(string sha256, CancellationToken cancellationToken);

    /// <summary>Stores the image durably (idempotent: an intact copy already there is kept) and
    /// verifies what was stored.</summary>
    Task PutAsync(string sha256, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);
}

/// <summary>An image held in memory for as long as one download needs it. Every lease of an image
/// shares one copy of its bytes; dispose it when the response has been written.</summary>
public sealed class ImageLease(ReadOnlyMemory<byte> content, Action? release = null) : IDisposable
{
    private Action? _release = release;

    public ReadOnlyMemory<byte> Content { get; } = content;

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}

/// <summary>Firmware images by SHA-256 for downloads, from whichever store holds each.</summary>
public interface IImageSource
{
    /// <summary>A lease on the image; null when no store holds it. Throws
    /// <see cref="CorruptArtifactException"/> when its stored bytes are damaged.</summary>
    ValueTask<ImageLease?> AcquireAsync(string sha256, CancellationToken cancellationToken);
}

/// <summary>Signed, expiring links to images on a static file server (<c>Ota:Offload</c>).</summary>
public interface IDownloadLinks
{
    /// <summary>A link valid from <paramref name="now"/> for the configured lifetime, or null when
    /// offloading is off or the file server does not have this image (then the service streams it).</summary>
    Uri? LinkFor(string sha256, long sizeBytes, DateTimeOffset now);
}

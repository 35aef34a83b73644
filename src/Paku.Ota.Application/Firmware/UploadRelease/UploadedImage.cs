using System.Security.Cryptography;

namespace Paku.Ota.Application.Firmware.UploadRelease;

/// <summary>An uploaded image, read from its stream once: the bytes, their SHA-256 and size are
/// taken while copying, and the copy stops one byte past <see cref="Limit"/>, so an oversized image is
/// refused as soon as it passes the limit instead of after it has arrived whole.</summary>
public sealed class UploadedImage
{
    /// <summary>The first byte of every ESP application image (esp_image_header_t.magic).</summary>
    public const byte EspImageMagic = 0xE9;

    private const int ChunkBytes = 64 * 1024;

    private readonly byte[] _buffer;
    private readonly byte[]? _digest;

    private UploadedImage(byte[] buffer, int length, byte[]? digest, long limit)
    {
        _buffer = buffer;
        Length = length;
        _digest = digest;
        Limit = limit;
    }

    /// <summary>The bytes read: the whole image, or the first <see cref="Limit"/> + 1 bytes of an oversized one.</summary>
    public ReadOnlyMemory<byte> Content => _buffer.AsMemory(0, (int)Length);

    public long Length { get; }

    public long Limit { get; }

    public bool ExceedsLimit => Length > Limit;

    /// <summary>SHA-256 of the image (only for an image within the limit).</summary>
    public ReadOnlySpan<byte> Sha256Digest => _digest ?? throw new InvalidOperationException("An oversized image was not hashed whole.");

    /// <summary>Lower-case hex, as stored and sent to devices.</summary>
    public string Sha256 => Convert.ToHexStringLower(Sha256Digest);

    public static UploadedImage FromBytes(byte[] content, long limit) =>
        content.LongLength > limit
            ? new UploadedImage(content, (int)Math.Min(content.LongLength, limit + 1), null, limit)
            : new UploadedImage(content, content.Length, SHA256.HashData(content), limit);

    /// <param name="sizeHint">The expected size (e.g. the request's Content-Length), to size the buffer once.</param>
    public static async Task<UploadedImage> ReadAsync(Stream source, long limit, long? sizeHint, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(limit, (long)Array.MaxLength);
        var cap = (int)limit + 1;
        var buffer = new byte[(int)Math.Min(Math.Max(sizeHint ?? ChunkBytes, 4096), cap)];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var length = 0;
        while (length < cap)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, cap));
            }

            var read = await source.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length - length, ChunkBytes)), cancellationToken);
            if (read == 0)
            {
                break;
            }

            hash.AppendData(buffer, length, read);
            length += read;
        }

        return new UploadedImage(buffer, length, length > limit ? null : hash.GetHashAndReset(), limit);
    }
}

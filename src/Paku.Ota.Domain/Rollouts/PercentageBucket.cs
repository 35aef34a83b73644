using System.Text;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>
/// Places a device in one of 10,000 buckets per rollout. A rollout at p % includes buckets
/// 0 .. p*100-1, so raising the percentage only ever adds devices. The hash is fixed by this
/// code (64-bit FNV-1a over the UTF-8 of name, NUL, id; then MurmurHash3's fmix64), never by
/// the runtime, so every replica and every restart puts a device in the same bucket.
/// </summary>
public static class PercentageBucket
{
    public const int Count = 10_000;

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    // Keeps ("ab", "c") and ("a", "bc") apart; neither a name nor an id can contain NUL.
    private const byte Separator = 0;

    public static int Of(string rolloutName, string deviceId)
    {
        ArgumentNullException.ThrowIfNull(rolloutName);
        ArgumentNullException.ThrowIfNull(deviceId);

        var hash = AddUtf8(FnvOffset, rolloutName);
        hash = (hash ^ Separator) * FnvPrime;
        hash = AddUtf8(hash, deviceId);
        return (int)(Finish(hash) % Count);
    }

    public static bool Includes(string rolloutName, string deviceId, int percentage)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(percentage);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percentage, 100);
        return percentage switch
        {
            0 => false,
            100 => true,
            _ => Of(rolloutName, deviceId) < percentage * (Count / 100),
        };
    }

    private static ulong AddUtf8(ulong hash, string text)
    {
        Span<byte> encoded = stackalloc byte[4];
        var rest = text.AsSpan();
        while (!rest.IsEmpty)
        {
            var c = rest[0];
            if (c < 0x80)
            {
                hash = (hash ^ c) * FnvPrime;
                rest = rest[1..];
                continue;
            }

            // Lone surrogates become U+FFFD, exactly as Encoding.UTF8 would encode them.
            Rune.DecodeFromUtf16(rest, out var rune, out var consumed);
            var written = rune.EncodeToUtf8(encoded);
            for (var i = 0; i < written; i++)
            {
                hash = (hash ^ encoded[i]) * FnvPrime;
            }

            rest = rest[consumed..];
        }

        return hash;
    }

    private static ulong Finish(ulong k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdUL;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53UL;
        k ^= k >> 33;
        return k;
    }
}

using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Paku.Ota.Infrastructure.Events;

/// <summary>The <c>Paku-Signature</c> header: <c>t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256&gt;</c>, the HMAC
/// keyed with the endpoint's secret over <c>t + "." + body</c> (Stripe's scheme). The time is signed, so a
/// receiver that refuses old timestamps refuses a replayed request; each attempt is signed afresh.</summary>
public static class WebhookSignature
{
    public const string Header = "Paku-Signature";

    public static string Sign(byte[] secret, DateTimeOffset at, byte[] body)
    {
        var t = at.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        return $"t={t},v1={Mac(secret, t, body)}";
    }

    /// <summary>What a receiver does: the header parses, some v1 matches in constant time, and t is within
    /// <paramref name="tolerance"/> of <paramref name="now"/>.</summary>
    public static bool Verify(byte[] secret, string? header, byte[] body, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        string? t = null;
        List<string> signatures = [];
        foreach (var part in header.Split(','))
        {
            var pair = part.Split('=', 2);
            if (pair.Length != 2)
            {
                return false;
            }

            switch (pair[0].Trim())
            {
                case "t":
                    t = pair[1].Trim();
                    break;
                case "v1":
                    signatures.Add(pair[1].Trim());
                    break;
            }
        }

        if (t is null || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ||
            seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds() ||
            (now - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > tolerance)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Mac(secret, t, body));
        return signatures.Any(s => CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(s)));
    }

    private static string Mac(byte[] secret, string t, byte[] body)
    {
        var prefix = Encoding.ASCII.GetBytes(t + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed, prefix.Length);
        return Convert.ToHexStringLower(HMACSHA256.HashData(secret, signed));
    }
}

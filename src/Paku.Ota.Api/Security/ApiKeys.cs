using System.Security.Cryptography;
using System.Text;

namespace Paku.Ota.Api.Security;

/// <summary>API keys are long random secrets, so one SHA-256 is a sound way to store them; what
/// matters is that the stored form cannot be replayed and comparison leaks no timing.</summary>
public static class ApiKeys
{
    public const string HashPrefix = "sha256:";

    public static string NewKey() => "pk_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string Hash(string key) => HashPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>Parses a configured hash into its 32 bytes, or explains what is wrong with it.</summary>
    public static bool TryParseHash(string? text, out byte[] digest, out string? error)
    {
        digest = [];
        if (text is null || !text.StartsWith(HashPrefix, StringComparison.Ordinal) || text.Length != HashPrefix.Length + 64)
        {
            error = $"expected '{HashPrefix}' followed by 64 hex digits (the output of the hash-key verb)";
            return false;
        }

        try
        {
            digest = Convert.FromHexString(text.AsSpan(HashPrefix.Length));
            error = null;
            return true;
        }
        catch (FormatException)
        {
            error = "the hash is not hexadecimal";
            return false;
        }
    }
}

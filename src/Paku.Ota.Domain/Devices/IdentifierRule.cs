using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Devices;

/// <summary>One rule for the short identifiers that travel in URLs, certificates and SQL: a length and a character set.</summary>
internal sealed class IdentifierRule(string what, int maxLength, string allowed, string allowedText, bool isPathSegment)
{
    public const string LettersAndDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private readonly SearchValues<char> _allowed = SearchValues.Create(allowed);

    public bool IsValid(string? value, [NotNullWhen(false)] out string? error)
    {
        error = Problem(value);
        return error is null;
    }

    private string? Problem(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return $"{what} is required (1 to {maxLength} characters of {allowedText})";
        }

        if (value.Length > maxLength)
        {
            return $"{what} '{Shown(value)}' is {value.Length} characters long, at most {maxLength} are allowed";
        }

        var bad = value.AsSpan().IndexOfAnyExcept(_allowed);
        if (bad >= 0)
        {
            return $"{what} '{Shown(value)}' contains {Describe(value[bad])} at position {bad + 1}; only {allowedText} are allowed";
        }

        // "." and ".." are resolved away by every HTTP client before the request leaves.
        if (isPathSegment && value is "." or "..")
        {
            return $"{what} '{value}' is not allowed: it means something else in a URL path";
        }

        return null;
    }

    private static string Shown(string value) => value.Length <= 40 ? value : string.Concat(value.AsSpan(0, 40), "…");

    private static string Describe(char c) =>
        char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";
}

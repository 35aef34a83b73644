using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Devices;

/// <summary>A device group such as <c>location:warehouse</c> or <c>env/production</c>.</summary>
public static class GroupName
{
    public const int MaxLength = 64;

    private static readonly IdentifierRule Rule = new(
        "group", MaxLength, IdentifierRule.LettersAndDigits + "._:/-", "A-Z a-z 0-9 . _ : / -", isPathSegment: false);

    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error) => Rule.IsValid(value, out error);
}

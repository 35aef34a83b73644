using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Devices;

public static class DeviceModel
{
    public const int MaxLength = 64;

    private static readonly IdentifierRule Rule = new(
        "device model", MaxLength, IdentifierRule.LettersAndDigits + "._-", "A-Z a-z 0-9 . _ -", isPathSegment: false);

    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error) => Rule.IsValid(value, out error);
}

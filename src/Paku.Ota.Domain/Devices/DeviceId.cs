using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Devices;

/// <summary>A device id is also the CN of the device's certificate and a URL path segment.</summary>
public static class DeviceId
{
    public const int MaxLength = 64;

    private static readonly IdentifierRule Rule = new(
        "device id", MaxLength, IdentifierRule.LettersAndDigits + "._:-", "A-Z a-z 0-9 . _ : -", isPathSegment: true);

    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error) => Rule.IsValid(value, out error);
}

using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Devices;

/// <summary>A device model ("esp32", "esp32-s3"). Models have one canonical form, lower case: a device,
/// an upload or a rollout that says "ESP32" means the model "esp32", so case never makes a second model.
/// Input is accepted in any case and made canonical where it enters (the use cases' messages); the
/// database refuses any other form (migration 0008, pinned to <see cref="Canonical"/> by a test).</summary>
public static class DeviceModel
{
    public const int MaxLength = 64;

    private static readonly IdentifierRule Rule = new(
        "device model", MaxLength, IdentifierRule.LettersAndDigits + "._-", "A-Z a-z 0-9 . _ -", isPathSegment: false);

    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error) => Rule.IsValid(value, out error);

    /// <summary>The canonical form of a model as sent (null stays null, so that validation can say it is missing).</summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Canonical(string? value) => value?.ToLowerInvariant();
}

using System.Diagnostics.CodeAnalysis;
using Paku.Ota.Domain.Devices;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>A rollout's name is its key in the admin API's URLs (PATCH /api/admin/rollout/{name}).</summary>
public static class RolloutName
{
    public const int MaxLength = 128;

    private static readonly IdentifierRule Rule = new(
        "rollout name", MaxLength, IdentifierRule.LettersAndDigits + "._-", "A-Z a-z 0-9 . _ -", isPathSegment: true);

    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error) => Rule.IsValid(value, out error);
}

using FluentValidation;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts;

/// <summary>Carries the Domain's field errors (already named as on the wire) into validation results.</summary>
internal static class RolloutRules
{
    public static void AddFailures<T>(this ValidationContext<T> context, IEnumerable<FieldError> errors)
    {
        foreach (var error in errors)
        {
            context.AddFailure(error.Field, Sentence(error));
        }
    }

    public static Error ToError(IReadOnlyList<FieldError> errors) =>
        new(ErrorKind.Validation, "Invalid request",
            string.Join(" ", errors.Select(Sentence)),
            errors.GroupBy(e => e.Field, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(Sentence).ToArray(), StringComparer.Ordinal));

    /// <summary>"field: message." — the Domain's messages carry no full stop, and details join several of them.</summary>
    public static string Sentence(FieldError error) =>
        error.Message.EndsWith('.') ? $"{error.Field}: {error.Message}" : $"{error.Field}: {error.Message}.";

    public static TargetFilter ToFilter(this TargetFilterInput input) => new(input.DeviceIds, input.Groups);
}

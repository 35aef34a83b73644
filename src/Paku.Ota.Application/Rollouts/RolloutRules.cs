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
            context.AddFailure(error.Field, $"{error.Field}: {error.Message}");
        }
    }

    public static Error ToError(IReadOnlyList<FieldError> errors) =>
        new(ErrorKind.Validation, "Invalid request",
            string.Join(" ", errors.Select(e => $"{e.Field}: {e.Message}")),
            errors.GroupBy(e => e.Field, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(e => $"{e.Field}: {e.Message}").ToArray(), StringComparer.Ordinal));

    public static TargetFilter ToFilter(this TargetFilterInput input) => new(input.DeviceIds, input.Groups);
}

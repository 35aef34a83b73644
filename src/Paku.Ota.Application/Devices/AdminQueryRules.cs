using System.Globalization;
using FluentValidation;
using Paku.Ota.Domain.Devices;

namespace Paku.Ota.Application.Devices;

/// <summary>Query-string numbers arrive as text, so that "abc" is reported by name like any other bad
/// value instead of failing in model binding.</summary>
internal static class AdminQueryRules
{
    public const int MaxGroupsPerDevice = 32;

    public static IRuleBuilderOptionsConditions<T, string?> WholeNumberField<T>(this IRuleBuilder<T, string?> rule, string field, int min, int max) =>
        rule.Custom((value, context) =>
        {
            if (value is null)
            {
                return;
            }

            if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) || number < min || number > max)
            {
                context.AddFailure(field, $"{field} must be a whole number from {min} to {max}, not '{Shown(value)}'.");
            }
        });

    public static int WholeNumberOr(string? value, int fallback) =>
        value is null ? fallback : int.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    public static IRuleBuilderOptionsConditions<T, string?> GroupField<T>(this IRuleBuilder<T, string?> rule, string field) =>
        rule.Custom((value, context) =>
        {
            if (value is not null && !GroupName.IsValid(value, out var error))
            {
                context.AddFailure(field, $"{field}: {error}.");
            }
        });

    /// <summary>A device's group list: at most <see cref="MaxGroupsPerDevice"/>, each a valid group name.
    /// Returns whether it found a problem.</summary>
    public static bool CheckGroups<T>(ValidationContext<T> context, string field, IReadOnlyList<string>? groups)
    {
        if (groups is null)
        {
            context.AddFailure(field, $"{field} is required: a list of group names (empty to remove every group).");
            return true;
        }

        var distinct = groups.Distinct(StringComparer.Ordinal).Count();
        if (distinct > MaxGroupsPerDevice)
        {
            context.AddFailure(field, $"{field}: a device may be in at most {MaxGroupsPerDevice} groups, got {distinct}.");
        }

        var invalid = 0;
        foreach (var group in groups)
        {
            if (!GroupName.IsValid(group, out var error) && ++invalid <= 5)
            {
                context.AddFailure(field, $"{field}: {error}.");
            }
        }

        return invalid > 0 || distinct > MaxGroupsPerDevice;
    }

    private static string Shown(string value) => value.Length <= 20 ? value : string.Concat(value.AsSpan(0, 20), "…");
}

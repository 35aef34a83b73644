using FluentValidation;
using Paku.Ota.Domain.Devices;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Text;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Common;

/// <summary>FluentValidation rules over the Domain's own checks, so every endpoint words a bad device
/// id, model or version the same way and names the field as the client sent it.</summary>
public static class Rules
{
    public static IRuleBuilderOptionsConditions<T, string?> DeviceIdField<T>(this IRuleBuilder<T, string?> rule, string field) =>
        rule.Custom((value, context) => Check(context, field, value, DeviceId.IsValid));

    /// <summary>A rollout's name (the route's <c>{name}</c>), named <c>name</c>.</summary>
    public static IRuleBuilderOptionsConditions<T, string?> RolloutNameField<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Custom((name, context) =>
        {
            if (!RolloutName.IsValid(name, out var error))
            {
                context.AddFailure(Rollout.NameField, $"{Rollout.NameField}: {error}.");
            }
        });

    public static IRuleBuilderOptionsConditions<T, string?> DeviceModelField<T>(this IRuleBuilder<T, string?> rule, string field) =>
        rule.Custom((value, context) => Check(context, field, value, DeviceModel.IsValid));

    public static IRuleBuilderOptionsConditions<T, string?> VersionField<T>(this IRuleBuilder<T, string?> rule, string field, bool optional = false) =>
        rule.Custom((value, context) =>
        {
            if (value is null && optional)
            {
                return;
            }

            if (string.IsNullOrEmpty(value))
            {
                context.AddFailure(field, $"{field} is required (a SemVer version such as 1.2.0).");
            }
            else if (!FirmwareVersion.TryParse(value, out _, out var error))
            {
                context.AddFailure(field, $"{field}: {error}");
            }
        });

    /// <summary>Free text that is stored (notes, reasons, error messages): optional, at most
    /// <paramref name="maxLength"/> characters, and text PostgreSQL can store (<see cref="StorableText"/>).</summary>
    public static IRuleBuilderOptionsConditions<T, string?> TextField<T>(this IRuleBuilder<T, string?> rule, string field, int maxLength) =>
        rule.Custom((value, context) =>
        {
            if (value is null)
            {
                return;
            }

            if (value.Length > maxLength)
            {
                context.AddFailure(field, $"{field} is {value.Length} characters long; at most {maxLength} are allowed.");
            }
            else if (!StorableText.IsValid(value, out var error))
            {
                context.AddFailure(field, $"{field} {error}.");
            }
        });

    private delegate bool Validate(string? value, out string? error);

    private static void Check<T>(ValidationContext<T> context, string field, string? value, Validate validate)
    {
        if (string.IsNullOrEmpty(value))
        {
            context.AddFailure(field, $"{field} is required.");
        }
        else if (!validate(value, out var error))
        {
            context.AddFailure(field, $"{field}: {error}");
        }
    }
}

using FluentValidation;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.CreateRollout;

/// <summary>Every field by the Domain's own rules, so that the handler only meets a rollout that
/// <see cref="Rollout.Create"/> accepts; the release itself is looked up by the handler.</summary>
public sealed class CreateRolloutValidator : AbstractValidator<CreateRollout>
{
    public CreateRolloutValidator()
    {
        RuleFor(c => c.Name).Custom((name, context) =>
        {
            if (!RolloutName.IsValid(name, out var error))
            {
                context.AddFailure(Rollout.NameField, $"{Rollout.NameField}: {error}.");
            }
        });
        RuleFor(c => c.FirmwareVersion).VersionField("firmware_version");
        RuleFor(c => c.DeviceModel).DeviceModelField(Rollout.DeviceModelField);
        RuleFor(c => c).Custom((command, context) =>
        {
            if (string.IsNullOrEmpty(command.TargetType))
            {
                context.AddFailure(Rollout.TargetTypeField, $"target_type is required: one of {TargetTypes.WireNames}.");
            }
            else if (!TargetTypes.TryParse(command.TargetType, out var type))
            {
                context.AddFailure(Rollout.TargetTypeField, $"target_type '{command.TargetType}' is not one of {TargetTypes.WireNames}.");
            }
            else
            {
                context.AddFailures(Rollout.ValidateFilter(type, (command.TargetFilter ?? new TargetFilterInput(null, null)).ToFilter()));
            }

            if (Rollout.ValidatePercentage(command.RolloutPercentage ?? CreateRollout.DefaultPercentage) is { } percentage)
            {
                context.AddFailures([percentage]);
            }

            if (command.FailureThreshold is { } threshold)
            {
                context.AddFailures(FailureThreshold.Validate(
                    threshold.Percent ?? FailureThreshold.Default.Percent,
                    threshold.MinimumAttempts ?? FailureThreshold.Default.MinimumAttempts));
            }

            if (command.AttemptDeadline is { } deadline)
            {
                context.AddFailures(deadline.Validate(AttemptDeadline.Default));
            }

            if (command.Windows is { } windows)
            {
                context.AddFailures(WindowInput.ToSchedule(windows).Errors);
            }

            if (command.Pace is { } pace)
            {
                context.AddFailures(pace.Validate());
            }
        });
    }
}

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
        RuleFor(c => c.Name).RolloutNameField();
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
                var filter = (command.TargetFilter ?? new TargetFilterInput(null, null)).ToFilter();
                RolloutPlan? plan = null;
                if (command.Phases is not null)
                {
                    (plan, var planErrors) = RolloutPlan.Create(type, command.Phases);
                    context.AddFailures(planErrors);
                }

                if (plan is null)
                {
                    context.AddFailures(Rollout.ValidateFilter(type, filter));
                }
                else
                {
                    var percentage = CreateRollout.StartPercentage(command.RolloutPercentage, plan);
                    var planTargeting = Rollout.ValidatePlanTargeting(plan, percentage, filter);
                    context.AddFailures(planTargeting);
                    if (planTargeting.Count == 0)
                    {
                        // a group plan gives the groups the rollout starts with
                        context.AddFailures(Rollout.ValidateFilter(type, plan.ByPercentage ? filter : TargetFilter.ForGroups(plan.GroupsThrough(0))));
                    }
                }
            }

            if (command.Phases is null && Rollout.ValidatePercentage(command.RolloutPercentage ?? CreateRollout.DefaultPercentage) is { } percentageError)
            {
                context.AddFailures([percentageError]);
            }
            else if (command.Phases is not null && command.RolloutPercentage is { } sent && Rollout.ValidatePercentage(sent) is { } sentError)
            {
                context.AddFailures([sentError]);
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

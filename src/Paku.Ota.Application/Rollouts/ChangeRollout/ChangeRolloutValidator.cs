using FluentValidation;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.ChangeRollout;

public sealed class ChangeRolloutValidator : AbstractValidator<ChangeRollout>
{
    public ChangeRolloutValidator()
    {
        RuleFor(c => c.Name).RolloutNameField();
        RuleFor(c => c).Custom((command, context) =>
        {
            if (command.ChangesNothing)
            {
                context.AddFailure("body", $"The change is empty: send at least one of {ChangeRollout.Fields}.");
                return;
            }

            if (command.RolloutPercentage is { } percentage && Rollout.ValidatePercentage(percentage) is { } error)
            {
                context.AddFailures([error]);
            }

            if (command.FailureThreshold is { } threshold)
            {
                if (threshold.Percent is null && threshold.MinimumAttempts is null)
                {
                    context.AddFailure("failure_threshold", "failure_threshold is empty: give percent, minimum_attempts or both.");
                }

                // The defaults stand in for a part not sent; they are valid, so only what was sent can fail.
                context.AddFailures(FailureThreshold.Validate(
                    threshold.Percent ?? FailureThreshold.Default.Percent,
                    threshold.MinimumAttempts ?? FailureThreshold.Default.MinimumAttempts));
            }

            if (command.AttemptDeadline is { } deadline)
            {
                if (deadline.IsEmpty)
                {
                    context.AddFailure(AttemptDeadline.Field,
                        "attempt_deadline is empty: give downloading_minutes, installing_minutes, success_minutes or some of them.");
                }

                // as for the threshold: the defaults stand in for the parts not sent
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

namespace Paku.Ota.Domain.Rollouts;

/// <summary>
/// When a rollout halts itself: once at least <see cref="MinimumAttempts"/> devices have tried,
/// a failure rate strictly above <see cref="Percent"/> stops it.
/// </summary>
public sealed record FailureThreshold(decimal Percent, int MinimumAttempts)
{
    public const string PercentField = "failure_threshold.percent";
    public const string MinimumAttemptsField = "failure_threshold.minimum_attempts";

    public static FailureThreshold Default { get; } = new(5m, 20);

    // Get-only on purpose: a `with` expression would otherwise bypass these checks.
    public decimal Percent { get; } = PercentProblem(Percent) is { } problem
        ? throw new ArgumentOutOfRangeException(nameof(Percent), Percent, problem)
        : Percent;

    public int MinimumAttempts { get; } = MinimumAttemptsProblem(MinimumAttempts) is { } problem
        ? throw new ArgumentOutOfRangeException(nameof(MinimumAttempts), MinimumAttempts, problem)
        : MinimumAttempts;

    /// <summary>The problems with a threshold an operator asked for, before constructing it.</summary>
    public static IReadOnlyList<FieldError> Validate(decimal percent, int minimumAttempts)
    {
        List<FieldError> errors = [];
        if (PercentProblem(percent) is { } percentProblem)
        {
            errors.Add(new FieldError(PercentField, percentProblem));
        }

        if (MinimumAttemptsProblem(minimumAttempts) is { } attemptsProblem)
        {
            errors.Add(new FieldError(MinimumAttemptsField, attemptsProblem));
        }

        return errors;
    }

    private static string? PercentProblem(decimal percent) =>
        percent is > 0m and <= 100m ? null : $"the failure threshold must be above 0 % and at most 100 %, got {percent} %";

    private static string? MinimumAttemptsProblem(int attempts) =>
        attempts >= 1 ? null : $"the minimum number of attempts must be at least 1, got {attempts}";
}

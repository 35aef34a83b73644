namespace Paku.Ota.Domain.Rollouts.Events;

/// <summary>When a webhook delivery that failed is tried again: exponential backoff from
/// <see cref="FirstDelay"/>, doubling per failed attempt up to <see cref="MaxDelay"/>, with "equal
/// jitter" (half the delay fixed, half random) so that the deliveries of a receiver that was down do not
/// all come back at the same second; after <see cref="MaxAttempts"/> attempts the delivery is given up.</summary>
public sealed record DeliveryRetry
{
    public DeliveryRetry(TimeSpan firstDelay, TimeSpan maxDelay, int maxAttempts)
    {
        if (firstDelay <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(firstDelay), firstDelay, "the first retry delay must be positive");
        }

        if (maxDelay < firstDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDelay), maxDelay, $"the longest retry delay cannot be shorter than the first ({firstDelay})");
        }

        if (maxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxAttempts), maxAttempts, "at least one attempt is needed");
        }

        FirstDelay = firstDelay;
        MaxDelay = maxDelay;
        MaxAttempts = maxAttempts;
    }

    public TimeSpan FirstDelay { get; }

    public TimeSpan MaxDelay { get; }

    public int MaxAttempts { get; }

    /// <summary>How long to wait after the <paramref name="failedAttempts"/>-th failed attempt, or null
    /// when that was the last one allowed.</summary>
    /// <param name="jitter">A random number in [0, 1): where in the upper half of the delay this retry falls.</param>
    public TimeSpan? DelayAfter(int failedAttempts, double jitter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempts, 1);
        if (jitter is < 0 or >= 1 || double.IsNaN(jitter))
        {
            throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "jitter is a number in [0, 1)");
        }

        if (failedAttempts >= MaxAttempts)
        {
            return null;
        }

        // 2^(n-1) overflows nothing: the exponent stops growing once the cap is reached
        var exponent = Math.Min(failedAttempts - 1, 40);
        var full = Math.Min(MaxDelay.TotalMilliseconds, FirstDelay.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds((full / 2) + (full / 2 * jitter));
    }
}

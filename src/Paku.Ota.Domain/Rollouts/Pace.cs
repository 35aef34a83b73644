namespace Paku.Ota.Domain.Rollouts;

/// <summary>How fast a rollout may take in devices: at most <see cref="PerMinute"/> new attempts per
/// minute (a device offered the release for the first time) and at most <see cref="MaxInFlight"/>
/// attempts in flight (<see cref="RolloutHealth.IsInFlight"/>). Either may be absent; a pace with
/// neither does not limit anything.</summary>
public sealed record Pace(int? PerMinute, int? MaxInFlight)
{
    public const string Field = "pace";
    public const string PerMinuteField = "pace.per_minute";
    public const string MaxInFlightField = "pace.max_in_flight";
    public const int MaxValue = 1_000_000;

    public static Pace None { get; } = new(null, null);

    public int? PerMinute { get; } = Checked(PerMinute, nameof(PerMinute));

    public int? MaxInFlight { get; } = Checked(MaxInFlight, nameof(MaxInFlight));

    public bool IsNone => PerMinute is null && MaxInFlight is null;

    public static IReadOnlyList<FieldError> Validate(int? perMinute, int? maxInFlight)
    {
        List<FieldError> errors = [];
        if (Problem(perMinute) is { } perMinuteProblem)
        {
            errors.Add(new FieldError(PerMinuteField, perMinuteProblem));
        }

        if (Problem(maxInFlight) is { } inFlightProblem)
        {
            errors.Add(new FieldError(MaxInFlightField, inFlightProblem));
        }

        return errors;
    }

    /// <summary>The start of the minute <paramref name="at"/> is in: the unit the per-minute budget is counted in.</summary>
    public static DateTimeOffset MinuteOf(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
    }

    /// <summary>Whether one more device may start now, given what the rollout has used.</summary>
    public PaceDecision Decide(PaceUsage usage, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(usage);
        var minute = MinuteOf(now);
        var offers = usage.Minute == minute ? usage.OffersInMinute : 0;
        if (PerMinute is { } perMinute && offers >= perMinute)
        {
            var next = minute.AddMinutes(1);
            return new PaceDecision(false, usage, next,
                $"paced: {offers} of {perMinute} new attempts this minute are taken; the next minute starts at {next:HH:mm:ss} UTC");
        }

        if (MaxInFlight is { } maxInFlight && usage.InFlight >= maxInFlight)
        {
            // a slot frees when an attempt ends, which nobody can foresee: ask again in a minute
            var retry = now.AddMinutes(1);
            return new PaceDecision(false, usage, retry,
                $"paced: {usage.InFlight} attempts are in flight, at most {maxInFlight} are allowed; a slot frees when one ends");
        }

        var after = new PaceUsage(minute, offers + 1, usage.InFlight + 1);
        var room = PerMinute is { } limit ? $"{offers + 1} of {limit} new attempts this minute" : "no per-minute limit";
        return new PaceDecision(true, after, null, $"within pace: {room}");
    }

    public override string ToString() =>
        (PerMinute, MaxInFlight) switch
        {
            (null, null) => "unpaced",
            ({ } m, null) => $"{m} new attempts per minute",
            (null, { } f) => $"at most {f} in flight",
            ({ } m, { } f) => $"{m} new attempts per minute, at most {f} in flight",
        };

    private static int? Checked(int? value, string name) =>
        Problem(value) is { } problem ? throw new ArgumentOutOfRangeException(name, value, problem) : value;

    private static string? Problem(int? value) =>
        value is null or (>= 1 and <= MaxValue) ? null : $"must be from 1 to {MaxValue}, got {value}";
}

/// <summary>What a rollout has used of its pace: offers made in <see cref="Minute"/> (the start of a
/// minute, UTC) and attempts in flight now.</summary>
public sealed record PaceUsage(DateTimeOffset Minute, int OffersInMinute, int InFlight)
{
    public static PaceUsage Unused { get; } = new(DateTimeOffset.MinValue, 0, 0);
}

/// <param name="Admitted">The device may be offered the release now.</param>
/// <param name="After">The usage once this device is admitted (unchanged when it is not).</param>
/// <param name="RetryFrom">When refused: from when asking again can succeed.</param>
/// <param name="Reason">The decision in a sentence, for <c>/explain</c>.</param>
public sealed record PaceDecision(bool Admitted, PaceUsage After, DateTimeOffset? RetryFrom, string Reason);

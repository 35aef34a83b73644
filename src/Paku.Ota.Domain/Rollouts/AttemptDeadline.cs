using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>How long a rollout's device may stay silent in each step of its attempt before the attempt
/// counts as timed out: downloading takes longest, installing less, and after reporting success the
/// device only has to reboot and check in.</summary>
public sealed record AttemptDeadline(TimeSpan Downloading, TimeSpan Installing, TimeSpan Success)
{
    public const string Field = "attempt_deadline";
    public const string DownloadingField = "attempt_deadline.downloading_minutes";
    public const string InstallingField = "attempt_deadline.installing_minutes";
    public const string SuccessField = "attempt_deadline.success_minutes";

    /// <summary>The longest deadline accepted: 30 days.</summary>
    public const int MaxMinutes = 30 * 24 * 60;

    public static AttemptDeadline Default { get; } = FromMinutes(360, 60, 120);

    public TimeSpan Downloading { get; } = Checked(Downloading, nameof(Downloading));
    public TimeSpan Installing { get; } = Checked(Installing, nameof(Installing));
    public TimeSpan Success { get; } = Checked(Success, nameof(Success));

    public static AttemptDeadline FromMinutes(int downloading, int installing, int success) =>
        new(TimeSpan.FromMinutes(downloading), TimeSpan.FromMinutes(installing), TimeSpan.FromMinutes(success));

    /// <summary>The problems with deadlines an operator asked for, in minutes, before constructing them.</summary>
    public static IReadOnlyList<FieldError> Validate(int downloading, int installing, int success)
    {
        List<FieldError> errors = [];
        foreach (var (field, minutes) in new[] { (DownloadingField, downloading), (InstallingField, installing), (SuccessField, success) })
        {
            if (minutes is < 1 or > MaxMinutes)
            {
                errors.Add(new FieldError(field, $"a deadline must be from 1 to {MaxMinutes} minutes (30 days), got {minutes}"));
            }
        }

        return errors;
    }

    /// <summary>The silence allowed in <paramref name="status"/>, or null when an attempt in it cannot time out.</summary>
    public TimeSpan? For(UpdateStatus status) => status switch
    {
        UpdateStatus.Downloading => Downloading,
        UpdateStatus.Installing => Installing,
        UpdateStatus.Success => Success,
        _ => null,
    };

    private static TimeSpan Checked(TimeSpan value, string name) =>
        value >= TimeSpan.FromMinutes(1) && value <= TimeSpan.FromMinutes(MaxMinutes)
            ? value
            : throw new ArgumentOutOfRangeException(name, value, $"a deadline must be from 1 minute to {MaxMinutes} minutes");
}

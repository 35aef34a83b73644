namespace Paku.Ota.Domain.Updates;

/// <summary>The state of one device's attempt at one target version.</summary>
/// <param name="FromVersion">What the device ran when the attempt started, when it said.</param>
/// <param name="Progress">0–100, as last reported.</param>
public sealed record UpdateAttempt(string TargetVersion, string? FromVersion, UpdateStatus Status, int Progress)
{
    // Checked in init as well, so that `with` cannot bypass the rules.
    private readonly string _targetVersion = CheckTarget(TargetVersion);
    private readonly int _progress = CheckProgress(Progress);

    public string TargetVersion { get => _targetVersion; init => _targetVersion = CheckTarget(value); }

    public int Progress { get => _progress; init => _progress = CheckProgress(value); }

    private static string CheckTarget(string target) =>
        !string.IsNullOrEmpty(target) ? target : throw new ArgumentException("an attempt needs a target version", nameof(TargetVersion));

    private static int CheckProgress(int progress) =>
        progress is >= 0 and <= 100 ? progress : throw new ArgumentOutOfRangeException(nameof(Progress), progress, "progress is 0 to 100");
}

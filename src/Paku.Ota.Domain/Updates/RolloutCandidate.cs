using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Updates;

/// <summary>A rollout together with the release it offers; the two must name the same model and version.</summary>
public sealed record RolloutCandidate(Rollout Rollout, ReleaseInfo Release)
{
    public ReleaseInfo Release { get; } = Belongs(Release, Rollout)
        ? Release
        : throw new ArgumentException(
            $"release {Release.Model} {Release.Version} is not the release of rollout '{Rollout.Name}' ({Rollout.DeviceModel} {Rollout.Version})",
            nameof(Release));

    private static bool Belongs(ReleaseInfo release, Rollout rollout)
    {
        ArgumentNullException.ThrowIfNull(release);
        ArgumentNullException.ThrowIfNull(rollout);
        return string.Equals(release.Model, rollout.DeviceModel, StringComparison.Ordinal) && release.Version == rollout.Version;
    }
}

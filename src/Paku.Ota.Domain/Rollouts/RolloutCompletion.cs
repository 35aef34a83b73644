using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>A device of a rollout's model, as far as judging the rollout's completion needs it.</summary>
public sealed record ModelDevice(string DeviceId, IReadOnlyCollection<string> Groups, FirmwareVersion Current, bool Blocked);

/// <summary>The one definition of "a rollout is completed": it is active, it reaches its whole target
/// (a specific list, or 100 %), at least one device confirmed its release, and every unblocked device of
/// its model that it targets runs its version (a forward rollout: that version or newer). A device whose
/// attempt failed and stays on the old version keeps the rollout from completing. The database's
/// <c>rollout_completion</c> view decides the same, pinned by a test; the outbox records at most one
/// completion per rollout, whatever happens after.</summary>
public static class RolloutCompletion
{
    public static bool ReachesWholeTarget(Rollout rollout)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        return rollout.TargetType == TargetType.Specific || rollout.Percentage == 100;
    }

    /// <summary>Whether a device running <paramref name="current"/> has what the rollout offers.</summary>
    public static bool HasArrived(Rollout rollout, FirmwareVersion current)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(current);
        return rollout.AllowDowngrade ? current == rollout.Version : current >= rollout.Version;
    }

    /// <param name="confirmed">Devices of the rollout whose attempt is confirmed.</param>
    /// <param name="devicesOfModel">Every device of the rollout's model.</param>
    public static bool IsComplete(Rollout rollout, int confirmed, IEnumerable<ModelDevice> devicesOfModel)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        ArgumentNullException.ThrowIfNull(devicesOfModel);
        return rollout.State == RolloutState.Active
            && ReachesWholeTarget(rollout)
            && confirmed > 0
            && devicesOfModel.All(d => d.Blocked || !rollout.Targets(d.DeviceId, d.Groups) || HasArrived(rollout, d.Current));
    }
}

namespace Paku.Ota.Domain.Updates;

/// <summary>What became of one rollout when a device checked for an update; the first rule that fails, in this order.</summary>
public enum SelectionVerdict
{
    /// <summary>This rollout's release is what the device is offered.</summary>
    Offered,

    /// <summary>The rollout is for another device model.</summary>
    OtherModel,

    /// <summary>Paused by an operator or halted by its failure threshold.</summary>
    Inactive,

    /// <summary>The release it offers has been withdrawn.</summary>
    ReleaseWithdrawn,

    /// <summary>A specific rollout that does not list the device.</summary>
    NotListed,

    /// <summary>A group rollout, and the device belongs to no group.</summary>
    NoGroups,

    /// <summary>A group rollout, and the device is in none of its groups.</summary>
    NotInGroup,

    /// <summary>The device's bucket is outside the rollout's percentage.</summary>
    OutsidePercentage,

    /// <summary>The device already runs the version the rollout offers.</summary>
    AlreadyOnVersion,

    /// <summary>The version is older than the device's and the rollout does not allow downgrades.</summary>
    NotNewer,

    /// <summary>The device's version is below the release's minimum version.</summary>
    BelowMinVersion,

    /// <summary>Eligible, but another rollout won.</summary>
    Outranked,

    /// <summary>Eligible, but a rollback rollout (one that allows downgrades) targets the device, and
    /// while it does no other rollout is offered to it: a device sent back stays back.</summary>
    HeldByRollback,
}

namespace Paku.Ota.Application.Devices;

/// <summary>A registered device as the admin API shows it.</summary>
/// <param name="Groups">From <c>metadata-&gt;'groups'</c>, empty when the device has none.</param>
/// <param name="Update">The device's current (or last) update attempt, or null when it never started one.</param>
/// <param name="Blocked">Why and since when the device is blocked, or null when it is not.</param>
public sealed record DeviceView(
    string DeviceId,
    string DeviceModel,
    string CurrentFirmwareVersion,
    IReadOnlyList<string> Groups,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    DeviceUpdateView? Update,
    DeviceBlockView? Blocked = null);

public sealed record DeviceBlockView(string Reason, string BlockedBy, DateTimeOffset BlockedAt);

/// <param name="Rollout">The rollout the attempt counts towards, or null for an update no rollout offered.</param>
public sealed record DeviceUpdateView(
    string? Rollout,
    string TargetVersion,
    string? FromVersion,
    string Status,
    int Progress,
    DateTimeOffset? ChangedAt);

/// <summary>What the device's last check offered it.</summary>
public sealed record DeviceOfferView(string? Rollout, string Version, DateTimeOffset? At);

/// <summary>The device's outcome in one rollout (a rollout_devices row).</summary>
public sealed record DeviceRolloutView(
    string Rollout,
    string FirmwareVersion,
    string Status,
    int Progress,
    int Attempts,
    string? FromVersion,
    DateTimeOffset OfferedAt,
    DateTimeOffset UpdatedAt);

/// <summary>One entry of the append-only update history (device_update_status).</summary>
/// <param name="Source">device (reported) or server (derived: confirmed and rolled_back at check-in, timed_out past a deadline).</param>
public sealed record UpdateHistoryEntry(
    long Id,
    string DeviceId,
    string FirmwareVersion,
    string Status,
    int ProgressPercent,
    string? ErrorMessage,
    string? Rollout,
    string Source,
    DateTimeOffset ReportedAt);

public sealed record DeviceFilter(string? Model, string? Group, string? Version, int Limit, int Offset)
{
    /// <summary>Part of the device id, compared without regard to case.</summary>
    public string? Search { get; init; }

    /// <summary>The device's current update status is one of these; empty: it never started an update; null: any.</summary>
    public IReadOnlyList<string>? Statuses { get; init; }
}

public sealed record DevicePage(IReadOnlyList<DeviceView> Devices, long Total);

/// <summary>Why a bulk group assignment wrote nothing: the ids that are not registered devices.</summary>
public sealed record UnknownDevices(IReadOnlyList<string> DeviceIds, int Count);

/// <summary>Registered devices for operators: reads, and the groups that group rollouts target.</summary>
public interface IDeviceAdminStore
{
    Task<DevicePage> ListAsync(DeviceFilter filter, CancellationToken cancellationToken);

    Task<DeviceView?> GetAsync(string deviceId, CancellationToken cancellationToken);

    Task<DeviceOfferView?> LastOfferAsync(string deviceId, CancellationToken cancellationToken);

    /// <summary>The device's outcome in every rollout that offered it something, newest first.</summary>
    Task<IReadOnlyList<DeviceRolloutView>> RolloutsOfAsync(string deviceId, CancellationToken cancellationToken);

    /// <summary>Replaces the device's groups in <c>metadata-&gt;'groups'</c>; false when there is no such device.</summary>
    Task<bool> SetGroupsAsync(string deviceId, IReadOnlyList<string> groups, CancellationToken cancellationToken);

    /// <summary>Replaces the groups of every listed device in one transaction. When any id is not a
    /// registered device nothing is changed and the unknown ids are returned (the first few).</summary>
    Task<UnknownDevices?> SetGroupsAsync(IReadOnlyDictionary<string, IReadOnlyList<string>> groupsByDevice, CancellationToken cancellationToken);
}

public sealed record UpdateHistoryFilter(string? DeviceId, string? FirmwareVersion, string? Status, int Limit);

public interface IUpdateHistory
{
    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<UpdateHistoryEntry>> ListAsync(UpdateHistoryFilter filter, CancellationToken cancellationToken);
}

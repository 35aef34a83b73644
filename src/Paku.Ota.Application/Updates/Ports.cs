using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Updates;

/// <summary>A device's update attempt as stored, with the rollout it belongs to (if any).</summary>
public sealed record StoredAttempt(long? RolloutId, UpdateAttempt Attempt);

/// <summary>What the device check learns from its one write: the device's groups, what it was last
/// offered and its current update attempt.</summary>
public sealed record DeviceCheckIn(IReadOnlyList<string> Groups, long? OfferedRolloutId, string? OfferedVersion, StoredAttempt? Attempt);

public interface IDeviceStore
{
    /// <summary>Registers the device or refreshes its model, running version and last-seen time,
    /// in one statement, and returns what the check needs to know about it.</summary>
    Task<DeviceCheckIn> CheckInAsync(string deviceId, string model, string currentVersion, CancellationToken cancellationToken);

    /// <summary>Remembers that the rollout offers the version to the device (and counts the device
    /// as targeted by the rollout).</summary>
    Task RecordOfferAsync(string deviceId, long rolloutId, string version, string fromVersion, CancellationToken cancellationToken);

    Task<string?> FindModelAsync(string deviceId, CancellationToken cancellationToken);
}

/// <summary>The device's update state, locked for the length of one <see cref="IUpdateLedgerSession"/>.</summary>
/// <param name="AttemptChangedAt">When the attempt last changed (what its deadline counts from).</param>
public sealed record DeviceUpdateState(
    string DeviceId, string Model, string CurrentVersion, long? OfferedRolloutId, string? OfferedVersion, StoredAttempt? Attempt,
    DateTimeOffset? AttemptChangedAt = null);

/// <summary>One entry of the append-only update history.</summary>
public sealed record StatusEntry(string DeviceId, string FirmwareVersion, UpdateStatus Status, int Progress, string? ErrorMessage, long? RolloutId, bool FromDevice);

/// <summary>Opens a unit of work over one device's update state: everything written through the
/// session lands together at <see cref="IUpdateLedgerSession.CommitAsync"/>, or not at all.
/// Sessions of different devices may share one transaction (group commit): CommitAsync returns only
/// once the writes are durable, and throws when the shared transaction failed. A session must always
/// be disposed, committed or not.</summary>
public interface IUpdateLedger
{
    Task<IUpdateLedgerSession> OpenAsync(string deviceId, CancellationToken cancellationToken);
}

public interface IUpdateLedgerSession : IAsyncDisposable
{
    /// <summary>The device's state, or null when the device has never checked in.</summary>
    DeviceUpdateState? Device { get; }

    void AppendHistory(StatusEntry entry);

    /// <summary>Stores the device's new attempt state and its outcome in the rollout's accounting.</summary>
    void SaveAttempt(string deviceId, long? rolloutId, UpdateAttempt attempt, bool startsAttempt);

    Task CommitAsync(CancellationToken cancellationToken);
}

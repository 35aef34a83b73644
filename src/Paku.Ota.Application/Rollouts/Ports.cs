using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Rollouts;

/// <summary>The release a new rollout would offer, as far as creating the rollout needs it.</summary>
public sealed record RolloutRelease(long Id, string Model, FirmwareVersion Version, DateTimeOffset? WithdrawnAt, string? WithdrawnReason);

/// <summary>Rollouts as aggregates: created whole, changed under a row lock.</summary>
public interface IRolloutStore
{
    /// <summary>The model's release with this version by SemVer precedence (build metadata ignored), or null.</summary>
    Task<RolloutRelease?> FindReleaseAsync(string model, FirmwareVersion version, CancellationToken cancellationToken);

    /// <summary>Stores a new rollout, and <paramref name="rolloutEvent"/> (if any) in the same transaction;
    /// false when the name is already taken (nothing is written then).</summary>
    Task<bool> AddAsync(Rollout rollout, long releaseId, string createdBy, RolloutEvent? rolloutEvent, CancellationToken cancellationToken);

    /// <summary>Loads and locks the named rollout, or returns null when there is none.</summary>
    Task<IRolloutChange?> OpenAsync(string name, CancellationToken cancellationToken);

    /// <summary>The named rollout with its model's previous release and the devices that started it, or null.</summary>
    Task<CreateRollback.RollbackSource?> FindRollbackSourceAsync(string name, CancellationToken cancellationToken);
}

/// <summary>One rollout locked for a change: nothing is written unless <see cref="SaveAsync"/> is called.</summary>
public interface IRolloutChange : IAsyncDisposable
{
    Rollout Rollout { get; }

    /// <summary>An event the change causes: written to the outbox by the save, in its transaction, so it
    /// exists exactly when the change committed.</summary>
    void Record(RolloutEvent rolloutEvent);

    Task SaveAsync(CancellationToken cancellationToken);

    /// <summary>Saves a rollout that <see cref="Rollout.Halt"/> just halted: the halt's time and figures
    /// (<paramref name="detailsJson"/>), and the system's audit entry, in one transaction.</summary>
    Task SaveHaltAsync(string detailsJson, CancellationToken cancellationToken);

    /// <summary>Saves a rollout that <see cref="Rollout.AdvancePhase"/> just moved to its next phase, with
    /// the audit entry of the advance (by <paramref name="actor"/>, figures in <paramref name="detailsJson"/>),
    /// in one transaction. Called only by <see cref="Phases.RolloutPhaseAdvancer"/>.</summary>
    Task SaveAdvanceAsync(string actor, string detailsJson, CancellationToken cancellationToken);
}

/// <summary>The read side: rollouts with their live progress, counted in the database.</summary>
public interface IRolloutQueries
{
    Task<RolloutView?> GetAsync(string name, CancellationToken cancellationToken);

    /// <summary>Newest first; every model when <paramref name="model"/> is null.</summary>
    Task<IReadOnlyList<RolloutView>> ListAsync(string? model, CancellationToken cancellationToken);
}

/// <summary>A paced rollout's budget, shared by every replica through the database.</summary>
public interface IPaceLedger
{
    /// <summary>Under the rollout's budget lock: reads what it has used, lets <see cref="Pace.Decide"/> judge, and
    /// when the device is admitted records its offer and the spent budget in the same transaction.</summary>
    Task<PaceDecision> TryAdmitAsync(
        long rolloutId, Pace pace, string deviceId, string version, string fromVersion, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>What the rollout has used (without locking), for explanations.</summary>
    Task<PaceUsage> ReadUsageAsync(long rolloutId, CancellationToken cancellationToken);
}

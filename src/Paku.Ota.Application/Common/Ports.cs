namespace Paku.Ota.Application.Common;

/// <summary>Tells whether the database answers and has every migration; used by the health check.</summary>
public interface IDatabaseProbe
{
    Task<bool> CanConnectAsync(CancellationToken cancellationToken);

    /// <summary>The migrations this build has that the database has not applied (empty when it is current),
    /// or null when that cannot be read (the database does not answer).</summary>
    Task<IReadOnlyList<string>?> PendingMigrationsAsync(CancellationToken cancellationToken);
}

namespace Paku.Ota.Application.Common;

/// <summary>Tells whether the database answers; used by the health check.</summary>
public interface IDatabaseProbe
{
    Task<bool> CanConnectAsync(CancellationToken cancellationToken);
}

using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Health;

public sealed record CheckHealth : IQuery<HealthReport>;

/// <param name="PendingMigrations">Migrations not yet applied (a skipped <c>migrate</c> step): device calls would fail, so the service is not healthy.</param>
public sealed record HealthReport(bool Healthy, bool DatabaseReachable, IReadOnlyList<string> PendingMigrations);

public sealed class CheckHealthHandler(IDatabaseProbe database) : IQueryHandler<CheckHealth, HealthReport>
{
    public async ValueTask<HealthReport> Handle(CheckHealth query, CancellationToken cancellationToken)
    {
        if (!await database.CanConnectAsync(cancellationToken))
        {
            return new HealthReport(false, false, []);
        }

        var pending = await database.PendingMigrationsAsync(cancellationToken);
        return pending is null ? new HealthReport(false, false, []) : new HealthReport(pending.Count == 0, true, pending);
    }
}

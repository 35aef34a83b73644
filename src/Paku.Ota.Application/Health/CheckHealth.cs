using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Health;

public sealed record CheckHealth : IQuery<HealthReport>;

public sealed record HealthReport(bool Healthy, bool DatabaseReachable);

public sealed class CheckHealthHandler(IDatabaseProbe database) : IQueryHandler<CheckHealth, HealthReport>
{
    public async ValueTask<HealthReport> Handle(CheckHealth query, CancellationToken cancellationToken)
    {
        var reachable = await database.CanConnectAsync(cancellationToken);
        return new HealthReport(reachable, reachable);
    }
}

using FluentValidation;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Devices.CheckForUpdate;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Rollouts.Pacing;
using Paku.Ota.Application.Rollouts.Phases;
using Paku.Ota.Application.Updates;

namespace Paku.Ota.Application;

public static class DependencyInjection
{
    /// <summary>Validators and services of this layer. The mediator itself is generated in the Api
    /// (it owns the source generator).</summary>
    public static IServiceCollection AddApplication(this IServiceCollection services, CheckIntervalOptions checkInterval)
    {
        services.AddValidatorsFromAssembly(typeof(DependencyInjection).Assembly, ServiceLifetime.Singleton, includeInternalTypes: true);
        services.AddSingleton<OtaMetrics>();
        services.AddSingleton<RolloutPhaseAdvancer>();
        services.AddSingleton<RolloutHealthMonitor>();
        services.AddSingleton<AttemptTimeouts>();
        services.AddSingleton<RolloutPacing>();
        services.AddSingleton(checkInterval);
        return services;
    }
}

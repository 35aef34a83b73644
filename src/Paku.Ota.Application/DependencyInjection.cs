using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Paku.Ota.Application;

public static class DependencyInjection
{
    /// <summary>Validators of this layer. The mediator itself is generated in the Api (it owns the source generator).</summary>
    public static IServiceCollection AddApplication(this IServiceCollection services)
    {
        services.AddValidatorsFromAssembly(typeof(DependencyInjection).Assembly, ServiceLifetime.Singleton, includeInternalTypes: true);
        return services;
    }
}

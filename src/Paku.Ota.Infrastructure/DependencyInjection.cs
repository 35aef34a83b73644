using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Application.Common;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Infrastructure;

public static class DependencyInjection
{
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        // read when first resolved, so hosts (and test hosts) may still add configuration after registration
        services.AddSingleton(sp => OtaDatabase.CreateDataSource(OtaDatabase.RequireConnectionString(sp.GetRequiredService<IConfiguration>())));
        services.AddSingleton<IDatabaseProbe, DatabaseProbe>();
        services.AddSingleton<IClock, SystemClock>();
        return services;
    }

    private sealed class SystemClock : IClock
    {
        public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;
    }
}

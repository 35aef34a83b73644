using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Paku.Ota.Application.Audit;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.GetFirmwareBinary;
using Paku.Ota.Application.Firmware.UploadRelease;
using Paku.Ota.Application.Updates;
using Paku.Ota.Infrastructure.Caching;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Infrastructure.Signing;

namespace Paku.Ota.Infrastructure;

public static class DependencyInjection
{
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        // read when first resolved, so hosts (and test hosts) may still add configuration after registration
        services.AddSingleton(sp => OtaDatabase.CreateDataSource(OtaDatabase.RequireConnectionString(sp.GetRequiredService<IConfiguration>())));
        services.AddSingleton<IDatabaseProbe, DatabaseProbe>();
        services.AddSingleton<IClock, SystemClock>();

        services.AddSingleton(configuration.GetSection("Ota:Catalog").Get<CatalogOptions>() ?? new CatalogOptions());
        services.AddSingleton<CatalogReader>();
        services.AddSingleton<CachedCatalog>();
        services.AddSingleton<ICatalog>(sp => sp.GetRequiredService<CachedCatalog>());
        services.AddHostedService<CatalogRefresher>();

        services.AddSingleton(configuration.GetSection("Ota:BinaryCache").Get<BinaryCacheOptions>() ?? new BinaryCacheOptions());
        services.AddSingleton<IBinaryStore, CachedBinaryStore>();
        services.AddSingleton<IDeviceStore, DeviceStore>();
        services.AddSingleton<IUpdateLedger, UpdateLedger>();
        services.AddSingleton<IAuditLog, AuditStore>();

        services.AddSingleton<IReleaseStore, ReleaseStore>();
        services.AddSingleton(sp => (sp.GetRequiredService<IConfiguration>().GetSection("Ota:Upload").Get<UploadOptions>() ?? new UploadOptions()).Validated());
        services.AddSingleton<ISignatureVerifier>(sp =>
            PublicKeySignatureVerifier.Load(sp.GetRequiredService<IConfiguration>().GetSection("Ota:Signing").Get<SigningOptions>() ?? new SigningOptions()));
        services.AddHostedService<FirmwareSettingsCheck>();
        return services;
    }

    private sealed class SystemClock : IClock
    {
        public DateTimeOffset UtcNow => DateTimeOffset.UtcNow;
    }
}

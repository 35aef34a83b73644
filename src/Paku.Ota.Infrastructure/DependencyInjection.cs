using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;
using Paku.Ota.Application.Audit;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Devices;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.Artifacts;
using Paku.Ota.Application.Firmware.UploadRelease;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Updates;
using Paku.Ota.Infrastructure.Artifacts;
using Paku.Ota.Infrastructure.Caching;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Infrastructure.Metrics;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Infrastructure.Rollouts;
using Paku.Ota.Infrastructure.Signing;

namespace Paku.Ota.Infrastructure;

public static class DependencyInjection
{
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration)
    {
        // read when first resolved, so hosts (and test hosts) may still add configuration after registration
        services.AddSingleton(sp => OtaDatabase.CreateDataSource(OtaDatabase.RequireConnectionString(sp.GetRequiredService<IConfiguration>())));
        services.AddSingleton<IDatabaseProbe, DatabaseProbe>();

        services.AddSingleton(configuration.GetSection("Ota:Catalog").Get<CatalogOptions>() ?? new CatalogOptions());
        services.AddSingleton<CatalogReader>();
        services.AddSingleton<CachedCatalog>();
        services.AddSingleton<ICatalog>(sp => sp.GetRequiredService<CachedCatalog>());
        services.AddHostedService<CatalogRefresher>();

        services.AddSingleton(configuration.GetSection("Ota:BinaryCache").Get<BinaryCacheOptions>() ?? new BinaryCacheOptions());
        services.AddSingleton(sp =>
        {
            var options = (sp.GetRequiredService<IConfiguration>().GetSection("Ota:Artifacts").Get<ArtifactOptions>() ?? new ArtifactOptions()).Validated();
            var directory = string.IsNullOrWhiteSpace(options.Directory)
                ? null
                : new DirectoryArtifactStore(options.Directory, sp.GetRequiredService<ILogger<DirectoryArtifactStore>>());
            return new ArtifactStores(ActivatorUtilities.CreateInstance<PostgresArtifactStore>(sp), directory, options.StoreKind);
        });
        services.AddSingleton<ImageCache>();
        services.AddSingleton<IImageSource>(sp => sp.GetRequiredService<ImageCache>());
        services.AddSingleton(sp => (sp.GetRequiredService<IConfiguration>().GetSection("Ota:Offload").Get<OffloadOptions>() ?? new OffloadOptions())
            .Validated(sp.GetRequiredService<ArtifactStores>()));
        services.AddSingleton<IDownloadLinks, SignedDownloadLinks>();
        services.AddSingleton<ArtifactMover>();
        var batching = configuration.GetSection("Ota:Devices:CheckInBatch").Get<CheckInBatchOptions>() ?? new CheckInBatchOptions();
        services.AddSingleton(batching);
        services.AddSingleton<CheckInBatcher>();
        services.AddSingleton<IDeviceStore>(sp => new DeviceStore(
            sp.GetRequiredService<NpgsqlDataSource>(),
            batching.Enabled ? sp.GetRequiredService<CheckInBatcher>() : null));
        services.AddSingleton(configuration.GetSection("Ota:Devices:UpdateGroup").Get<UpdateLedgerOptions>() ?? new UpdateLedgerOptions());
        services.AddSingleton<IUpdateLedger, UpdateLedger>();
        services.AddSingleton<IAuditLog, AuditStore>();

        services.AddSingleton(configuration.GetSection("Ota:Metrics").Get<FleetGaugeOptions>() ?? new FleetGaugeOptions());
        services.AddSingleton<FleetGauges>();
        services.AddHostedService(sp => sp.GetRequiredService<FleetGauges>());

        services.AddSingleton(sp => WebhookEndpoints.Load(
            sp.GetRequiredService<IConfiguration>().GetSection("Ota:Webhooks").Get<WebhookOptions>() ?? new WebhookOptions()));
        services.AddSingleton<RolloutEventOutbox>();
        services.AddSingleton<RolloutEventStore>();
        services.AddSingleton<Application.Rollouts.Events.IRolloutEventQueries>(sp => sp.GetRequiredService<RolloutEventStore>());
        services.AddSingleton<RolloutCompletionStore>();
        services.AddSingleton<WebhookSender>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());

        services.AddSingleton<RolloutStore>();
        services.AddSingleton<IRolloutStore>(sp => sp.GetRequiredService<RolloutStore>());
        services.AddSingleton<IRolloutQueries>(sp => sp.GetRequiredService<RolloutStore>());
        services.AddSingleton<IRolloutHealthStore, RolloutHealthStore>();
        services.AddSingleton<IPaceLedger, PaceLedger>();
        services.AddSingleton<IOverdueAttempts, OverdueAttemptStore>();
        services.AddSingleton(configuration.GetSection("Ota:Rollouts:Health").Get<RolloutHealthOptions>() ?? new RolloutHealthOptions());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHostedService<RolloutHealthLoop>();
        services.AddSingleton<IDeviceAdminStore, DeviceAdminStore>();
        services.AddSingleton<Paku.Ota.Application.Devices.GetFleetOverview.IFleetQueries, FleetStore>();
        services.AddSingleton<Application.Devices.Blocking.IDeviceBlockStore, DeviceBlockStore>();
        services.AddSingleton<IUpdateHistory, UpdateHistoryStore>();

        services.AddSingleton<IReleaseStore>(sp =>
        {
            var stores = sp.GetRequiredService<ArtifactStores>();
            return new ReleaseStore(sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<RolloutEventOutbox>(), stores.UploadsGoTo == ArtifactStoreKind.Directory ? stores.Directory : null);
        });
        services.AddSingleton(sp => (sp.GetRequiredService<IConfiguration>().GetSection("Ota:Upload").Get<UploadOptions>() ?? new UploadOptions()).Validated());
        services.AddSingleton<ISignatureVerifier>(sp =>
            PublicKeySignatureVerifier.Load(sp.GetRequiredService<IConfiguration>().GetSection("Ota:Signing").Get<SigningOptions>() ?? new SigningOptions()));
        services.AddHostedService<FirmwareSettingsCheck>();
        return services;
    }
}

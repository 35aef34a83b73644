using System.Net;
using Mediator;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Paku.Ota.Api.Endpoints;
using Paku.Ota.Api.Http;
using Paku.Ota.Api.Security;
using Paku.Ota.Api.WebConsole;
using Paku.Ota.Application;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Devices.CheckForUpdate;
using Paku.Ota.Infrastructure;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Api;

/// <summary>The composition root: one AddX() per layer, then the HTTP pipeline.</summary>
public static class ServiceHost
{
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);

        // a failed start is reported once, in one line, by the serve verb; the host's own error entry
        // (with the stack trace) is left out until the service has started
        var started = false;
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => level >= LogLevel.Information && (started || level < LogLevel.Error));
        var development = builder.Environment.IsDevelopment()
            ? DevelopmentProfile.Apply(builder.Configuration, builder.Environment.ContentRootPath)
            : null;

        builder.Services.AddApplication(builder.Configuration.GetSection("Ota:Devices").Get<CheckIntervalOptions>() ?? new CheckIntervalOptions());
        builder.Services.AddInfrastructure(builder.Configuration);
        builder.Services.AddMediator((MediatorOptions options) =>
        {
            options.ServiceLifetime = ServiceLifetime.Scoped;
            options.PipelineBehaviors = [typeof(ValidationBehaviour<,>)];
        });
        builder.Services.AddApi(builder.Configuration);
        builder.Services.AddOtaOpenApi();
        builder.Services.AddConsole(builder.Configuration);
        ConfigureListeners(builder);

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("paku-ota"))
            .WithMetrics(metrics => metrics
                .AddMeter(OtaMetrics.MeterName)
                .AddMeter("Npgsql")
                .AddAspNetCoreInstrumentation()
                .AddPrometheusExporter());

        var app = builder.Build();
        app.Lifetime.ApplicationStarted.Register(() => started = true);
        MigrateOnStartIfAsked(app);
        LogSecurityMode(app, development);
        if (development is not null)
        {
            DevelopmentSeed.RunAsync(app.Services, development, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Paku.Ota.Development"), CancellationToken.None)
                .GetAwaiter().GetResult();
        }

        app.UseMiddleware<DeviceAdmissionMiddleware>(); // first after routing: shedding the excess must cost little
        app.UseMiddleware<AdminAuditMiddleware>();
        app.UseMiddleware<HeadResponseMiddleware>();
        app.UseMiddleware<RequestLimitsMiddleware>();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<Listeners.FaceMiddleware>();
        app.UseMiddleware<ForwardedClientCertificateMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<RequestTextMiddleware>();
        app.MapPrometheusScrapingEndpoint("/metrics").AdminSurfaceOnly().WithMetadata(new Listeners.MetricsScrape()).ExcludeFromDescription();
        app.MapOpenApi().AllowAnonymous().AdminSurfaceOnly().ExcludeFromDescription();
        app.MapHealthEndpoints();
        app.MapDeviceEndpoints();
        app.MapAdminGroup()
            .MapAdminFirmwareEndpoints()
            .MapAdminRolloutEndpoints()
            .MapAdminDeviceEndpoints();
        app.MapConsole();
        return app;
    }

    /// <summary>The admin listener: plain HTTP on Ota:Http:Port (8080) at Ota:Http:ListenAddress (loopback
    /// unless configured; the development profile opens it as the seed's devices use it). The device
    /// listener: HTTPS on Ota:Https:Port (8443) at Ota:ListenAddress when a server certificate is
    /// configured, asking every client for a certificate. Kestrel accepts any client certificate at the
    /// handshake, keeping the intermediates the client sent with it; the chain is judged against the fleet CA
    /// by the authentication handler, so a bad certificate gets a problem+json that says why instead of a
    /// dropped connection.</summary>
    private static void ConfigureListeners(WebApplicationBuilder builder)
    {
        var address = Address(builder.Configuration, "Ota:ListenAddress", "0.0.0.0");
        var adminAddress = Address(builder.Configuration, "Ota:Http:ListenAddress", "127.0.0.1");
        var httpPort = builder.Configuration.GetValue("Ota:Http:Port", 8080);
        var https = builder.Configuration.GetSection("Ota:Https").Get<HttpsOptions>() ?? new HttpsOptions();
        var limits = builder.Configuration.GetSection("Ota:RequestLimits").Get<RequestLimitOptions>() ?? new RequestLimitOptions();
        builder.Services.AddSingleton(limits);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            RequestLimitsMiddleware.ApplyTo(kestrel.Limits, limits);
            kestrel.Listen(adminAddress, httpPort, listen => listen.Serves(Listeners.Face.Admin));
            if (string.IsNullOrEmpty(https.CertificatePath) || string.IsNullOrEmpty(https.KeyPath))
            {
                return;
            }

            RequireFile("Ota:Https:CertificatePath", https.CertificatePath);
            RequireFile("Ota:Https:KeyPath", https.KeyPath);
            var certificate = FleetCertificates.LoadWithKey(https.CertificatePath, https.KeyPath);
            kestrel.Listen(address, https.Port, listen => listen.Serves(Listeners.Face.Device).CapturesPresentedChains().UseHttps(tls =>
            {
                tls.ServerCertificate = certificate;
                tls.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                tls.ClientCertificateValidation = PresentedChain.Keep;
            }));
        });
    }

    private static IPAddress Address(IConfiguration configuration, string setting, string fallback)
    {
        var text = configuration[setting] is { Length: > 0 } given ? given : fallback;
        return IPAddress.TryParse(text, out var address)
            ? address
            : throw new InvalidOperationException($"{setting} is '{text}', which is not an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::).");
    }

    private static void RequireFile(string setting, string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{setting} points at '{path}', which does not exist.");
        }
    }

    private static void LogSecurityMode(WebApplication app, DevelopmentProfile.Material? development)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Paku.Ota.Security");
        var devices = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DeviceAuthOptions>>().Value;
        var keys = app.Services.GetRequiredService<ApiKeyRegistry>();
        var trust = app.Services.GetRequiredService<FleetTrust>(); // reads the CRL now: one that cannot be used stops the start
        log.LogInformation(
            "Device authentication: {Mode}; fleet CA: {FleetCa}; intermediate CAs: {Intermediates}; CRL: {Crl}; forwarded certificates: {Forwarded}; admin API keys: {Keys}",
            devices.AllowPlainHttp ? "client certificate, or plain HTTP without one (development only)" : "client certificate required",
            devices.FleetCaPath ?? "(none: no device can authenticate)",
            trust.Rules.AllowIntermediates ? $"up to {trust.Rules.MaxIntermediates}, presented by the device" : "refused",
            trust.Revocations is { } crl ? $"{devices.Crl.Path} ({crl.Count} revoked)" : "none",
            devices.ForwardedCertificateHeader is null ? "off" : $"header {devices.ForwardedCertificateHeader} from {string.Join(", ", devices.TrustedProxies)}",
            keys.Count);
        if (development is not null)
        {
            log.LogWarning(
                "Development profile. Admin API key: {ApiKey}  Device certificate for {DeviceId}: {Cert} (key {Key}); fleet CA: {Ca}",
                development.ApiKey, DevelopmentProfile.ExampleDeviceId, development.DeviceCertificate, development.DeviceKey, development.CaCertificate);
        }
    }

    /// <summary>The development profile (and the quick start) applies migrations at start-up;
    /// production runs the <c>migrate</c> verb as a separate step.</summary>
    private static void MigrateOnStartIfAsked(WebApplication app)
    {
        if (!app.Configuration.GetValue("Ota:Database:MigrateOnStart", false))
        {
            return;
        }

        var outcome = new Migrator(OtaDatabase.RequireConnectionString(app.Configuration), app.Services.GetRequiredService<ILoggerFactory>()).Run();
        if (!outcome.Succeeded)
        {
            throw new InvalidOperationException($"Migrations failed at start-up: {outcome.Failure}");
        }
    }
}

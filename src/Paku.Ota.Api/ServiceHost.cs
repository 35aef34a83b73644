using Mediator;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Paku.Ota.Api.Endpoints;
using Paku.Ota.Api.Http;
using Paku.Ota.Application;
using Paku.Ota.Application.Common;
using Paku.Ota.Infrastructure;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Api;

/// <summary>The composition root: one AddX() per layer, then the HTTP pipeline.</summary>
public static class ServiceHost
{
    public const string MeterName = "Paku.Ota";

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);

        builder.Services.AddApplication();
        builder.Services.AddInfrastructure(builder.Configuration);
        builder.Services.AddMediator((MediatorOptions options) =>
        {
            options.ServiceLifetime = ServiceLifetime.Scoped;
            options.PipelineBehaviors = [typeof(ValidationBehaviour<,>)];
        });
        builder.Services.AddApi();

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("paku-ota"))
            .WithMetrics(metrics => metrics
            .AddMeter(MeterName)
            .AddMeter("Npgsql")
            .AddAspNetCoreInstrumentation()
            .AddPrometheusExporter());

        var app = builder.Build();
        MigrateOnStartIfAsked(app);

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapHealthEndpoints();
        return app;
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

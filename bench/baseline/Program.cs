// The benchmark's baselines: what the cheapest possible versions of the service's requests cost on
// this machine, measured in the same run with the same load settings.
//   GET /floor   a ~200-byte JSON object, no I/O (the floor of ASP.NET Core + Kestrel + System.Text.Json)
//   GET /upsert  one Npgsql + Dapper INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING on a devices-like
//                table of its own (bench_devices), device id from the query string, one NpgsqlDataSource
// Both on HTTP, and on HTTPS when a certificate is configured (the 'tls' baseline). The HTTPS listener
// asks for a client certificate and accepts any, so a handshake costs what it costs on the service.
//
// Settings (environment or --key value): Bench__Http__Port, Bench__Https__Port, Bench__Https__CertificatePath,
// Bench__Https__KeyPath, Bench__ListenAddress, ConnectionStrings__Baseline.
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Npgsql;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);

var address = IPAddress.Parse(builder.Configuration["Bench:ListenAddress"] ?? "127.0.0.1");
var httpPort = builder.Configuration.GetValue("Bench:Http:Port", 18090);
var httpsPort = builder.Configuration.GetValue("Bench:Https:Port", 18453);
var certificatePath = builder.Configuration["Bench:Https:CertificatePath"];
var keyPath = builder.Configuration["Bench:Https:KeyPath"];
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(address, httpPort);
    if (string.IsNullOrEmpty(certificatePath) || string.IsNullOrEmpty(keyPath))
    {
        return;
    }

    var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
    kestrel.Listen(address, httpsPort, listen => listen.UseHttps(tls =>
    {
        tls.ServerCertificate = certificate;
        tls.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        tls.AllowAnyClientCertificate();
    }));
});

DefaultTypeMap.MatchNamesWithUnderscores = true;
var connectionString = builder.Configuration.GetConnectionString("Baseline");
NpgsqlDataSource? dataSource = null;
if (!string.IsNullOrEmpty(connectionString))
{
    // the service lets Npgsql prepare its hot statements; so does the baseline, or the ratio would flatter the service
    var csb = new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 32, AutoPrepareMinUsages = 2 };
    dataSource = NpgsqlDataSource.Create(csb.ConnectionString);
}

var app = builder.Build();

app.MapGet("/health", () => Results.Text("ok"));

var floor = new FloorAnswer(false, "1.0.0", "1.0.0", null, null, null, null, null, 3600);
app.MapGet("/floor", () => Results.Ok(floor));

const string UpsertSql = """
    insert into bench_devices as d (device_id, device_model, current_firmware_version)
    values (@DeviceId, @DeviceModel, @CurrentVersion)
    on conflict (device_id) do update
       set device_model = excluded.device_model,
           current_firmware_version = excluded.current_firmware_version,
           last_seen = now()
    returning d.device_id, d.device_model, d.current_firmware_version, d.first_seen, d.last_seen
    """;

app.MapGet("/upsert", async (HttpRequest request, CancellationToken cancellationToken) =>
{
    if (dataSource is null)
    {
        return Results.Problem(statusCode: 503, detail: "ConnectionStrings__Baseline is not set");
    }

    var deviceId = request.Query["device_id"].FirstOrDefault();
    if (string.IsNullOrEmpty(deviceId))
    {
        return Results.Problem(statusCode: 400, detail: "device_id is required");
    }

    var model = request.Query["device_model"].FirstOrDefault() ?? "esp32";
    var version = request.Query["current_version"].FirstOrDefault() ?? "1.0.0";
    await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
    var row = await connection.QuerySingleAsync<DeviceRow>(new CommandDefinition(
        UpsertSql, new { DeviceId = deviceId, DeviceModel = model, CurrentVersion = version }, cancellationToken: cancellationToken));
    return Results.Ok(row);
});

await app.RunAsync();

/// <summary>Shaped like the service's "no update" answer, so it serializes to about the same size.</summary>
internal sealed record FloorAnswer(
    bool UpdateAvailable,
    string CurrentVersion,
    string LatestVersion,
    string? DownloadUrl,
    string? ChecksumSha256,
    long? SizeBytes,
    string? Signature,
    string? Rollout,
    int NextCheckSeconds);

internal sealed class DeviceRow
{
    public string DeviceId { get; set; } = "";

    public string DeviceModel { get; set; } = "";

    public string CurrentFirmwareVersion { get; set; } = "";

    public DateTime FirstSeen { get; set; }

    public DateTime LastSeen { get; set; }
}

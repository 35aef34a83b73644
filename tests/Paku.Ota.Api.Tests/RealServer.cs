using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Paku.Ota.Api.Security;
using Paku.Ota.Infrastructure.Certificates;

namespace Paku.Ota.Api.Tests;

/// <summary>The service on a real Kestrel listener on loopback (HTTP and HTTPS with client
/// certificates requested), built by the same composition root as production, with a fleet CA and
/// server certificate made for the test.</summary>
public sealed class RealServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private RealServer(WebApplication app, int httpPort, int httpsPort, X509Certificate2 fleetCa, string directory)
    {
        _app = app;
        HttpPort = httpPort;
        HttpsPort = httpsPort;
        FleetCa = fleetCa;
        Directory = directory;
    }

    public int HttpPort { get; }

    public int HttpsPort { get; }

    /// <summary>The CA (with its key) that signs the server's and the devices' certificates.</summary>
    public X509Certificate2 FleetCa { get; }

    /// <summary>Folder holding ca.crt, server.crt/.key for tools such as curl.</summary>
    public string Directory { get; }

    public Uri Http => new($"http://127.0.0.1:{HttpPort}");

    public Uri Https => new($"https://127.0.0.1:{HttpsPort}");

    public IServiceProvider Services => _app.Services;

    /// <param name="fleetCa">The fleet CA (with its key) to use; by default one is made here.</param>
    public static async Task<RealServer> StartAsync(string connectionString, IReadOnlyDictionary<string, string?>? settings = null, X509Certificate2? fleetCa = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "paku-ota-test-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(directory);
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        var ca = fleetCa ?? FleetCertificates.CreateAuthority("Test fleet CA", now.AddDays(-30), now.AddDays(30));
        using var server = FleetCertificates.IssueServer(ca, ["localhost"], [IPAddress.Loopback], now, now.AddDays(30));
        FleetCertificates.WritePem(ca, Path.Combine(directory, "ca.crt"), Path.Combine(directory, "ca.key"));
        FleetCertificates.WritePem(server, Path.Combine(directory, "server.crt"), Path.Combine(directory, "server.key"));

        var httpPort = FreePort();
        var httpsPort = FreePort();
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Ota"] = connectionString,
            ["Ota:ListenAddress"] = "127.0.0.1",
            ["Ota:Http:Port"] = httpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Https:Port"] = httpsPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Https:CertificatePath"] = Path.Combine(directory, "server.crt"),
            ["Ota:Https:KeyPath"] = Path.Combine(directory, "server.key"),
            ["Ota:Devices:FleetCaPath"] = Path.Combine(directory, "ca.crt"),
            ["Ota:ApiKeys:0:Name"] = "test-writer",
            ["Ota:ApiKeys:0:Hash"] = ApiKeys.Hash(ApiFactory.WriteKey),
            ["Ota:ApiKeys:0:Scope"] = "write",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var args = new List<string> { "--environment", "Testing" };
        foreach (var (key, value) in all)
        {
            if (value is not null)
            {
                args.Add($"--{key}={value}");
            }
        }

        var app = ServiceHost.Build([.. args]);
        var errors = new ErrorLogSink();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(errors);
        await app.StartAsync();
        return new RealServer(app, httpPort, httpsPort, ca, directory) { ErrorLogs = errors };
    }

    /// <summary>What the server logged at error level or above since the last <see cref="ErrorLogSink.Clear"/>.</summary>
    public ErrorLogSink ErrorLogs { get; private init; } = new();

    /// <summary>A device certificate from the fleet CA (or from <paramref name="issuer"/>).</summary>
    public X509Certificate2 IssueDevice(string deviceId, X509Certificate2? issuer = null, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var start = notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5);
        return FleetCertificates.IssueDevice(issuer ?? FleetCa, deviceId, start, notAfter ?? start.AddDays(30));
    }

    /// <summary>An HTTP client that trusts only the fleet CA for the server and presents the given certificate,
    /// and with it the intermediate CAs in <paramref name="chain"/> when given.</summary>
    public HttpClient DeviceClient(X509Certificate2? certificate, IEnumerable<X509Certificate2>? chain = null)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = certificate is null || chain is not null ? null : new X509CertificateCollection { certificate },
                ClientCertificateContext = certificate is null || chain is null
                    ? null
                    : SslStreamCertificateContext.Create(certificate, new X509Certificate2Collection(chain.ToArray()), offline: true),
                RemoteCertificateValidationCallback = (_, serverCertificate, _, _) => IsFromFleetCa(serverCertificate),
            },
        };
        return new HttpClient(handler) { BaseAddress = Https, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        FleetCa.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private bool IsFromFleetCa(X509Certificate? presented)
    {
        if (presented is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(FleetCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(presented));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Keeps the server's error-level log entries (category and message), so a test can say that
/// a refusal was not logged as a server error.</summary>
public sealed class ErrorLogSink : ILoggerProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public void Clear() => _entries.Clear();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, System.Collections.Concurrent.ConcurrentQueue<string> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                entries.Enqueue($"{category}: {formatter(state, exception)} {exception?.GetType().Name}");
            }
        }
    }
}

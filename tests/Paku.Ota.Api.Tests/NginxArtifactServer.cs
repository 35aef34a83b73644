using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Paku.Ota.Api.Tests.Admin;

namespace Paku.Ota.Api.Tests;

/// <summary>Debian's nginx serving an artifact directory with the repository's own configuration
/// (<c>deploy/nginx/nginx.conf.in</c>, rendered by <c>deploy/nginx/render.sh</c>), unprivileged in the
/// foreground on a free loopback port with a prefix of its own. test.sh installs nginx when missing.</summary>
public sealed class NginxArtifactServer : IAsyncDisposable
{
    private Process? _nginx;
    private bool _tls;

    private NginxArtifactServer(int port, string prefix, string artifacts, string secret)
    {
        Port = port;
        Prefix = prefix;
        Artifacts = artifacts;
        Secret = secret;
    }

    public int Port { get; }

    public string Prefix { get; }

    /// <summary>The directory nginx serves: the service's Ota:Artifacts:Directory.</summary>
    public string Artifacts { get; }

    public string Secret { get; }

    /// <summary>What the service's Ota:Offload:BaseUrl must be.</summary>
    public Uri BaseUrl => new($"{(_tls ? "https" : "http")}://127.0.0.1:{Port}/fw");

    /// <summary>nginx's access log: which links were asked for, with their status.</summary>
    public string AccessLog => File.Exists(Path.Combine(Prefix, "run", "access.log")) ? File.ReadAllText(Path.Combine(Prefix, "run", "access.log")) : "";

    /// <summary>The settings that make a service store images where this nginx serves them and redirect to it.</summary>
    public IReadOnlyDictionary<string, string?> ServiceSettings(int lifetimeSeconds = 60) => new Dictionary<string, string?>
    {
        ["Ota:Artifacts:Store"] = "directory",
        ["Ota:Artifacts:Directory"] = Artifacts,
        ["Ota:Offload:Enabled"] = "true",
        ["Ota:Offload:BaseUrl"] = BaseUrl.ToString(),
        ["Ota:Offload:Secret"] = Secret,
        ["Ota:Offload:LifetimeSeconds"] = lifetimeSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Plain HTTP nginx, started.</summary>
    public static async Task<NginxArtifactServer> StartAsync()
    {
        var server = Prepare(tls: false);
        await server.RunAsync(null, null);
        return server;
    }

    /// <summary>A port, folders and a secret, so the service can be configured before nginx starts (with
    /// <paramref name="tls"/>, <see cref="RunAsync"/> gets the certificate, e.g. the service's own).</summary>
    public static NginxArtifactServer Prepare(bool tls)
    {
        var prefix = Directory.CreateTempSubdirectory("paku-nginx-").FullName;
        var artifacts = Path.Combine(prefix, "artifacts");
        Directory.CreateDirectory(artifacts);
        var secret = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
        return new NginxArtifactServer(FreePort(), prefix, artifacts, secret) { _tls = tls };
    }

    public async Task RunAsync(string? certificate, string? key)
    {
        var binary = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new AssertionException("nginx is not installed; ./test.sh installs Debian's nginx-light (scripts/install-test-deps.sh).");
        var secretFile = Path.Combine(Prefix, "secret");
        await File.WriteAllTextAsync(secretFile, Secret);
        var render = Path.Combine(RepoRoot(), "deploy", "nginx", "render.sh");
        var tls = _tls ? $" {certificate} {key}" : "";
        var config = (await FirmwareTestKit.RunAsync("bash", $"{render} {Prefix}/run 127.0.0.1:{Port} {Artifacts} {secretFile}{tls}", Prefix)).Trim();
        var run = Path.GetDirectoryName(config)!;
        _nginx = Process.Start(new ProcessStartInfo(binary, ["-c", config, "-p", run, "-e", Path.Combine(run, "error.log")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (_nginx.HasExited)
            {
                var log = File.Exists(Path.Combine(run, "error.log")) ? await File.ReadAllTextAsync(Path.Combine(run, "error.log")) : "";
                throw new AssertionException($"nginx exited with {_nginx.ExitCode}: {await _nginx.StandardError.ReadToEndAsync()} {log}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
            }

            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_nginx is { HasExited: false })
        {
            _nginx.Kill(entireProcessTree: true);
            await _nginx.WaitForExitAsync();
        }

        _nginx?.Dispose();
        try
        {
            Directory.Delete(Prefix, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paku.Ota.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Paku.Ota.sln not found above the test binaries");
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

/// <summary>The README's quick start, run as a newcomer runs it: the executable in the development profile
/// (a separate process, as run.sh starts it) and the README's own bash blocks of "A device's first check
/// and download" and "From a signed upload to a canary raised to 100 %", with only the ports changed.
/// Every request uses curl -f, so a request the service refuses fails the block.</summary>
[NonParallelizable]
public sealed partial class QuickStartTests
{
    private static readonly string[] Sections = ["### A device's first check and download", "### From a signed upload to a canary raised to 100 %"];

    private TestDatabase _db = null!;
    private string _dir = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_quickstart");
        _dir = Directory.CreateTempSubdirectory("paku-quickstart-").FullName;
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _db.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public async Task The_readme_quick_start_works_in_order_against_the_development_profile_and_survives_a_restart()
    {
        var (http, https) = (FreePort(), FreePort());
        var blocks = Sections.Select(section => Ported(BashBlockOf(section), http, https)).ToList();

        string output;
        await using (var server = await DevelopmentServer.StartAsync(_dir, _db.ConnectionString, http, https))
        {
            output = "";
            foreach (var block in blocks)
            {
                output += await RunBashAsync(block, _dir);
            }

            using var noCertificate = new HttpClient(new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, _, _, _) => true });
            var overHttps = await noCertificate.GetAsync($"https://localhost:{https}/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0");
            var overHttp = await noCertificate.GetAsync($"http://localhost:{http}/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0");
            Assert.That(overHttps.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "HTTPS without a client certificate, as the README says");
            Assert.That(overHttp.StatusCode, Is.EqualTo(HttpStatusCode.OK), "plain HTTP without one is the development profile's seed compatibility");
        }

        Assert.That(output, Does.Contain("\"update_available\":true").And.Contain("\"rollout\":\"example-esp32-1.2.0\""), output);
        Assert.That(new FileInfo(Path.Combine(_dir, "firmware.bin")).Length, Is.EqualTo(200_001));
        Assert.That(new FileInfo(Path.Combine(_dir, "firmware.rest")).Length, Is.EqualTo(100_001));

        // a restart makes nothing twice and leaves what the operator changed alone
        await using (var again = await DevelopmentServer.StartAsync(_dir, _db.ConnectionString, http, https))
        {
            using var admin = again.AdminClient();
            using var rollouts = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/rollouts"));
            using var releases = JsonDocument.Parse(await admin.GetStringAsync("/api/admin/firmware/releases?device_model=esp32"));

            Assert.That(rollouts.RootElement.GetProperty("rollouts").EnumerateArray().Select(r => r.GetProperty("name").GetString()),
                Is.EquivalentTo(new[] { "example-esp32-1.2.0", "v1.3.0-canary" }));
            Assert.That(releases.RootElement.GetProperty("releases").EnumerateArray().Select(r => r.GetProperty("version").GetString()),
                Is.EquivalentTo(new[] { "1.2.0", "1.3.0" }));
        }
    }

    /// <summary>The bash code blocks of one README section (up to the next heading), joined.</summary>
    private static string BashBlockOf(string heading)
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var start = readme.IndexOf(heading, StringComparison.Ordinal);
        Assert.That(start, Is.GreaterThanOrEqualTo(0), $"README.md has no section '{heading}'");
        var next = NextHeading().Match(readme, start + heading.Length);
        var section = readme[start..(next.Success ? next.Index : readme.Length)];
        var code = string.Join('\n', BashBlock().Matches(section).Select(m => m.Groups["code"].Value));
        Assert.That(code, Does.Contain("curl -f"), $"'{heading}' has its requests in ```bash blocks, with curl -f");
        return code;
    }

    private static string Ported(string script, int http, int https) =>
        script.Replace("http://localhost:8080", $"http://localhost:{http}", StringComparison.Ordinal)
            .Replace("https://localhost:8443", $"https://localhost:{https}", StringComparison.Ordinal);

    private static async Task<string> RunBashAsync(string script, string directory)
    {
        var start = new ProcessStartInfo("bash", ["-euo", "pipefail", "-c", script])
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var bash = Process.Start(start)!;
        var output = bash.StandardOutput.ReadToEndAsync();
        var errors = bash.StandardError.ReadToEndAsync();
        await bash.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        Assert.That(bash.ExitCode, Is.Zero, $"the README block failed:\n{script}\nstdout:\n{await output}\nstderr:\n{await errors}");
        return await output;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Paku.Ota.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (Paku.Ota.sln) is not above the test directory.");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    [GeneratedRegex("^#{2,3} ", RegexOptions.Multiline)]
    private static partial Regex NextHeading();

    [GeneratedRegex("```bash\\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    /// <summary><c>Paku.Ota.Api serve</c> in the development profile, as run.sh starts it, with its material
    /// under <c>{directory}/.local/dev</c> (where the README's commands look for it).</summary>
    private sealed class DevelopmentServer : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly int _http;
        private readonly string _directory;

        private DevelopmentServer(Process process, int http, string directory) => (_process, _http, _directory) = (process, http, directory);

        public static async Task<DevelopmentServer> StartAsync(string directory, string connectionString, int http, int https)
        {
            var bin = TestContext.CurrentContext.TestDirectory;
            var start = new ProcessStartInfo("dotnet", [Path.Combine(bin, "Paku.Ota.Api.dll"), "serve", "--contentRoot", bin])
            {
                WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("Ota__", StringComparison.Ordinal)).ToList())
            {
                start.Environment.Remove(inherited);
            }

            start.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
            start.Environment["ConnectionStrings__Ota"] = connectionString;
            start.Environment["Ota__Development__Directory"] = Path.Combine(directory, ".local", "dev");
            start.Environment["Ota__Http__Port"] = http.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["Ota__Https__Port"] = https.ToString(System.Globalization.CultureInfo.InvariantCulture);
            start.Environment["Ota__Http__ListenAddress"] = "127.0.0.1";
            start.Environment["Ota__ListenAddress"] = "127.0.0.1";
            var process = Process.Start(start)!;
            var log = new System.Text.StringBuilder();
            process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var server = new DevelopmentServer(process, http, directory);
            using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddMinutes(4);
            while (DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    if ((await probe.GetAsync($"http://127.0.0.1:{http}/health")).IsSuccessStatusCode)
                    {
                        return server;
                    }
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                catch (TaskCanceledException)
                {
                    // a slow answer on a loaded machine; ask again
                }

                await Task.Delay(250);
            }

            await server.DisposeAsync();
            string text;
            lock (log)
            {
                text = log.ToString();
            }

            throw new InvalidOperationException($"The development profile did not become healthy:\n{text}");
        }

        public HttpClient AdminClient()
        {
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_http}") };
            client.DefaultRequestHeaders.Add("X-API-Key", File.ReadAllText(Path.Combine(_directory, ".local", "dev", "admin-api-key")).Trim());
            return client;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }
    }
}

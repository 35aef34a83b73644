using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Paku.Ota.Api.Security;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.EndToEnd;

/// <summary>The C device component's host simulator updating itself against the real service: real
/// PostgreSQL, real mutual TLS on loopback, releases uploaded and signed with openssl through the
/// admin API. The simulator is built from esp-idf-client/ by CMake on first use. Run twice: with the
/// service streaming the images, and with downloads offloaded to a real nginx over HTTPS (deploy/nginx),
/// which the device reaches by following the service's redirect.</summary>
[NonParallelizable]
[TestFixture(false)]
[TestFixture(true)]
public sealed class SimulatedDeviceTests(bool offloaded)
{
    private NginxArtifactServer? _nginx;
    private TestDatabase _db = null!;
    private RealServer _server = null!;
    private string _work = null!;
    private string _simulator = null!;
    private HttpClient _admin = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _simulator = BuildSimulator();
        _work = Path.Combine(Path.GetTempPath(), "paku-e2e-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_work);
        Run("openssl", $"genrsa -out {_work}/signing.key 2048");
        Run("openssl", $"rsa -in {_work}/signing.key -pubout -out {_work}/signing.pub");
        Run("openssl", $"genrsa -out {_work}/retired.key 2048");
        Run("openssl", $"rsa -in {_work}/retired.key -pubout -out {_work}/retired.pub");

        _db = await TestDatabase.CreateAsync(offloaded ? "paku_test_e2e_offload" : "paku_test_e2e");
        var settings = new Dictionary<string, string?>
        {
            // the server still accepts the retired key (rotation); devices only trust the current one
            ["Ota:Signing:PublicKeys:0:Id"] = "current",
            ["Ota:Signing:PublicKeys:0:Path"] = $"{_work}/signing.pub",
            ["Ota:Signing:PublicKeys:1:Id"] = "retired",
            ["Ota:Signing:PublicKeys:1:Path"] = $"{_work}/retired.pub",
        };
        if (offloaded)
        {
            _nginx = NginxArtifactServer.Prepare(tls: true);
            foreach (var (key, value) in _nginx.ServiceSettings())
            {
                settings[key] = value;
            }
        }

        _server = await RealServer.StartAsync(_db.ConnectionString, settings);
        if (_nginx is not null)
        {
            // nginx serves HTTPS with the service's own certificate, which the devices' CA file trusts
            await _nginx.RunAsync(Path.Combine(_server.Directory, "server.crt"), Path.Combine(_server.Directory, "server.key"));
        }

        File.Copy(Path.Combine(_server.Directory, "ca.crt"), Path.Combine(_work, "ca.crt"));
        _admin = new HttpClient { BaseAddress = _server.Http };
        _admin.DefaultRequestHeaders.Add(AdminPolicies.HeaderName, ApiFactory.WriteKey);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
        if (_nginx is not null)
        {
            await _nginx.DisposeAsync();
        }

        await _db.DisposeAsync();
        Directory.Delete(_work, recursive: true);
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        ((Application.Catalog.ICatalog)_server.Services.GetService(typeof(Application.Catalog.ICatalog))!).Invalidate();
    }

    [Test]
    public async Task A_device_installs_a_signed_release_and_is_confirmed_on_it_with_one_TLS_handshake_per_step()
    {
        await UploadAsync("1.1.0", FleetData.Image(600_000, seed: 11), signingKey: "signing.key");
        await CreateRolloutAsync("all-1.1.0", "1.1.0");

        // ranges of 64 KiB: the check, ten downloads and every report share one connection
        var (exit, summary) = Simulate("esp32_001", "1.0.0", "--range-size", "65536");

        var device = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/devices/esp32_001");
        Assert.That(exit, Is.Zero, summary);
        // offloaded: one connection to the service and one to nginx, each kept for every range and report
        Assert.That(summary, Is.EqualTo($"paku-ota-sim: updated 1.0.0 -> 1.1.0 (connections: {(offloaded ? 2 : 1)} update, 1 confirm)"));
        Assert.That(Find(device, "current_firmware_version"), Is.EqualTo("1.1.0"));
        Assert.That(await StatusAsync("esp32_001"), Is.EqualTo("confirmed"));
    }

    [Test]
    public async Task A_release_whose_signature_the_device_cannot_verify_is_refused_and_the_device_keeps_its_version()
    {
        await UploadAsync("1.2.0", FleetData.Image(300_000, seed: 12), signingKey: "retired.key");
        await CreateRolloutAsync("all-1.2.0", "1.2.0");

        var (exit, summary) = Simulate("esp32_002", "1.0.0");

        var device = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/devices/esp32_002");
        Assert.That(exit, Is.EqualTo(3), summary);
        Assert.That(summary, Does.Contain("refused 1.2.0").And.Contain("signature"));
        Assert.That(Find(device, "current_firmware_version"), Is.EqualTo("1.0.0"));
        Assert.That(await StatusAsync("esp32_002"), Is.EqualTo("failed"));
    }

    [Test]
    public async Task A_download_cut_half_way_resumes_with_a_range_request_and_completes_with_the_right_hash()
    {
        var image = FleetData.Image(800_000, seed: 13);
        await UploadAsync("1.3.0", image, signingKey: "signing.key");
        await CreateRolloutAsync("all-1.3.0", "1.3.0");

        var (exit, summary) = Simulate("esp32_003", "1.0.0", "--interrupt-at", "400000");

        var installed = await File.ReadAllBytesAsync(Path.Combine(_work, "esp32_003", "ota-slot.bin"));
        Assert.That(exit, Is.Zero, summary);
        Assert.That(summary, Does.Contain("updated 1.0.0 -> 1.3.0 (resumed at 400000)"));
        Assert.That(Convert.ToHexStringLower(SHA256.HashData(installed.AsSpan(0, image.Length))), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(image))));
        Assert.That(await StatusAsync("esp32_003"), Is.EqualTo("confirmed"));
        if (_nginx is not null)
        {
            // cut on nginx's link, the device asked the service again and took the rest from nginx with a Range
            Assert.That(_nginx.AccessLog, Does.Contain("\" 200 ").And.Contain("\" 206 "), _nginx.AccessLog);
        }
    }

    [Test]
    public async Task A_device_whose_certificate_is_for_another_id_is_refused()
    {
        var (exit, summary) = Simulate("esp32_004", "1.0.0", certFor: "esp32_999");

        var devices = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/devices");
        Assert.That(exit, Is.EqualTo(5), summary);
        Assert.That(devices.GetProperty("devices").GetArrayLength(), Is.Zero);
    }

    private async Task UploadAsync(string version, byte[] image, string signingKey)
    {
        var file = Path.Combine(_work, $"fw-{version}.bin");
        await File.WriteAllBytesAsync(file, image);
        Run("openssl", $"dgst -sha256 -sign {_work}/{signingKey} -out {file}.sig {file}");
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(image) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }, "file", "firmware.bin" },
            { new ByteArrayContent(await File.ReadAllBytesAsync(file + ".sig")), "signature", "firmware.sig" },
        };
        var response = await _admin.PostAsync($"/api/admin/firmware/upload?version={version}&device_model=esp32&is_signed=true", form);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private async Task CreateRolloutAsync(string name, string version)
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", new
        {
            name,
            firmware_version = version,
            device_model = "esp32",
            target_type = "all",
            rollout_percentage = 100,
            is_active = true,
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private async Task<string?> StatusAsync(string deviceId)
    {
        var device = await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/devices/{deviceId}");
        return Find(device, "status", within: "update");
    }

    private static string? Find(JsonElement device, string property, string? within = null)
    {
        var root = device.TryGetProperty("device", out var wrapped) ? wrapped : device;
        if (within is not null)
        {
            root = root.GetProperty(within);
        }

        return root.GetProperty(property).GetString();
    }

    private (int Exit, string Summary) Simulate(string deviceId, string version, string? extra = null, string? value = null, string? certFor = null)
    {
        var certs = Path.Combine(_work, "certs");
        var holder = certFor ?? deviceId;
        if (!File.Exists(Path.Combine(certs, holder + ".crt")))
        {
            using var cert = _server.IssueDevice(holder);
            FleetCertificates.WritePem(cert, Path.Combine(certs, holder + ".crt"), Path.Combine(certs, holder + ".key"));
        }

        var state = Path.Combine(_work, deviceId);
        Directory.CreateDirectory(state);
        var args = new List<string>
        {
            "--server", _server.Https.ToString().TrimEnd('/'), "--id", deviceId, "--model", "esp32", "--version", version,
            "--cert", Path.Combine(certs, holder + ".crt"), "--key", Path.Combine(certs, holder + ".key"),
            "--cacert", Path.Combine(_work, "ca.crt"), "--pubkey", Path.Combine(_work, "signing.pub"),
            "--state-dir", state, "--once", "--retry-base-ms", "50",
        };
        if (extra is not null)
        {
            args.Add(extra);
            args.Add(value!);
        }

        var (exit, output, errors) = Exec(_simulator, args, TimeSpan.FromSeconds(90));
        TestContext.Out.WriteLine(errors);
        var summary = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("paku-ota-sim:", StringComparison.Ordinal)) ?? output + errors;
        return (exit, summary);
    }

    private static string BuildSimulator()
    {
        var repo = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Paku.Ota.sln")))
        {
            repo = repo.Parent;
        }

        var source = Path.Combine(repo!.FullName, "esp-idf-client");
        var build = Path.Combine(source, "build-e2e");
        var binary = Path.Combine(build, "paku-ota-sim");
        Run("bash", Path.Combine(source, "scripts", "install-host-deps.sh"));
        Run("cmake", $"-S {source} -B {build} -DCMAKE_BUILD_TYPE=Release -DPAKU_OTA_SANITIZE=OFF -DPAKU_OTA_BUILD_TESTS=OFF");
        Run("cmake", $"--build {build} --target paku-ota-sim -j 2");
        Assert.That(File.Exists(binary), Is.True, $"the simulator was not built at {binary}");
        return binary;
    }

    private static void Run(string file, string arguments)
    {
        var (exit, output, errors) = Exec(file, arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries), TimeSpan.FromMinutes(5));
        Assert.That(exit, Is.Zero, $"{file} {arguments} failed:\n{output}\n{errors}");
    }

    private static (int Exit, string Output, string Errors) Exec(string file, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} did not finish within {timeout}");
        }

        return (process.ExitCode, output.Result, errors.Result);
    }
}

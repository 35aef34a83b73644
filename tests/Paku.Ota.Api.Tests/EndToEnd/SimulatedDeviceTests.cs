using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Paku.Ota.Api.Security;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.EndToEnd;

/// <summary>The C device component's host simulator updating itself against the real service: real
/// PostgreSQL, real mutual TLS on loopback, releases uploaded and signed with openssl through the
/// admin API. The simulator is built from esp-idf-client/ by CMake on first use.</summary>
[NonParallelizable]
public sealed class SimulatedDeviceTests
{
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

        _db = await TestDatabase.CreateAsync("paku_test_e2e");
        _server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            // the server still accepts the retired key (rotation); devices only trust the current one
            ["Ota:Signing:PublicKeys:0:Id"] = "current",
            ["Ota:Signing:PublicKeys:0:Path"] = $"{_work}/signing.pub",
            ["Ota:Signing:PublicKeys:1:Id"] = "retired",
            ["Ota:Signing:PublicKeys:1:Path"] = $"{_work}/retired.pub",
            // phased rollouts move within a second of a confirmed boot, and a soak is noticed within half a second
            ["Ota:Rollouts:Health:EvaluateSeconds"] = "0.2",
            ["Ota:Rollouts:Health:SweepSeconds"] = "0.5",
        });
        File.Copy(Path.Combine(_server.Directory, "ca.crt"), Path.Combine(_work, "ca.crt"));
        _admin = new HttpClient { BaseAddress = _server.Http };
        _admin.DefaultRequestHeaders.Add(AdminPolicies.HeaderName, ApiFactory.WriteKey);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
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
        Assert.That(summary, Is.EqualTo("paku-ota-sim: updated 1.0.0 -> 1.1.0 (connections: 1 update, 1 confirm)"));
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
    }

    [Test]
    public async Task A_device_whose_certificate_is_for_another_id_is_refused()
    {
        var (exit, summary) = Simulate("esp32_004", "1.0.0", certFor: "esp32_999");

        var devices = await _admin.GetFromJsonAsync<JsonElement>("/api/admin/devices");
        Assert.That(exit, Is.EqualTo(5), summary);
        Assert.That(devices.GetProperty("devices").GetArrayLength(), Is.Zero);
    }

    [Test]
    public async Task A_phased_rollout_goes_from_10_to_50_to_100_percent_by_itself_on_the_confirmed_boots_of_simulated_devices()
    {
        const string name = "phased-1.4.0";
        await UploadAsync("1.4.0", FleetData.Image(60_000, seed: 14), signingKey: "signing.key");
        var fleet = Enumerable.Range(0, 30).Select(i => $"sim_{i:D2}").ToList();
        var phase1 = fleet.Where(d => PercentageBucket.Includes(name, d, 10)).ToList();
        var phase2 = fleet.Where(d => PercentageBucket.Includes(name, d, 50)).ToList();
        Assert.That((phase1.Count, phase2.Count), Is.EqualTo((2, 16)), "the stable buckets of this fleet (a phase must reach someone)");

        // each phase waits for every device it reached to confirm; the second also soaks 2 s
        await CreatePhasedRolloutAsync(name, "1.4.0", new object[]
        {
            new { percentage = 10, min_confirmed = phase1.Count, max_failure_percent = 0 },
            new { percentage = 50, min_confirmed = phase2.Count, max_failure_percent = 0, min_soak_seconds = 2 },
            new { percentage = 100, max_failure_percent = 0 },
        });

        // in each phase every device checks: those the phase does not reach first (nothing for them: the
        // phase cannot pass its gates before its own devices confirmed), then those it adds (updated, confirmed)
        var updated = new List<string>();
        foreach (var (phase, reach) in new[] { (1, phase1), (2, phase2), (3, fleet) })
        {
            foreach (var id in fleet.Except(reach))
            {
                Assert.That(Simulate(id, "1.0.0"), Is.EqualTo((0, "paku-ota-sim: up to date at 1.0.0")), $"{id} waits in phase {phase}");
            }

            foreach (var id in reach.Except(updated))
            {
                var (exit, summary) = Simulate(id, "1.0.0");
                Assert.That((exit, summary), Is.EqualTo((0, "paku-ota-sim: updated 1.0.0 -> 1.4.0 (connections: 1 update, 1 confirm)")), $"{id} in phase {phase}");
                updated.Add(id);
            }

            var rollout = await EventuallyAsync(name, r => r.GetProperty("phase").GetProperty("current").GetInt32() == Math.Min(phase + 1, 3)
                && (phase < 3 || r.GetProperty("progress").GetProperty("confirmed").GetInt32() == fleet.Count));
            Assert.That(rollout.GetProperty("state").GetString(), Is.EqualTo("active"));
        }

        var done = await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/rollout/{name}");
        Assert.That(done.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(100));
        Assert.That(done.GetProperty("phase").GetProperty("decision").GetString(), Is.EqualTo("final"));
        Assert.That(done.GetProperty("progress").GetProperty("failed").GetInt32(), Is.Zero);
        foreach (var id in fleet)
        {
            Assert.That(await StatusAsync(id), Is.EqualTo("confirmed"), id);
        }

        var advances = (await _admin.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=rollout.phase_advance")).GetProperty("entries").EnumerateArray().ToList();
        Assert.That(advances.Select(a => (a.GetProperty("actor").GetString(), a.GetProperty("details").GetProperty("to_phase").GetInt32())),
            Is.EqualTo(new[] { ("system", 3), ("system", 2) }));
        Assert.That(advances[0].GetProperty("details").GetProperty("gates")[0].GetProperty("actual").GetDecimal(), Is.EqualTo((decimal)phase2.Count));
        var metrics = await _admin.GetStringAsync("/metrics");
        Assert.That(metrics, Does.Match("ota_rollout_phase_advances_total\\{[^}]*trigger=\"automatic\"[^}]*\\} 2\\b"));
    }

    [Test]
    public async Task A_phase_whose_simulated_devices_refuse_the_release_halts_on_its_failure_gate_and_goes_no_further()
    {
        const string name = "phased-1.5.0";
        await UploadAsync("1.5.0", FleetData.Image(60_000, seed: 15), signingKey: "retired.key");
        // the rollout's own threshold (100 %) never halts it: only the phase's failure gate does
        await CreatePhasedRolloutAsync(name, "1.5.0",
            new object[] { new { percentage = 50, min_confirmed = 5, max_failure_percent = 20 }, new { percentage = 100 } },
            threshold: new { percent = 100, minimum_attempts = 2 });
        var reached = Enumerable.Range(0, 40).Select(i => $"bad_{i:D2}").Where(d => PercentageBucket.Includes(name, d, 50)).Take(3).ToList();

        foreach (var id in reached.Take(2))
        {
            var (exit, summary) = Simulate(id, "1.0.0");
            Assert.That(exit, Is.EqualTo(3), summary);
        }

        var halted = await EventuallyAsync(name, r => r.GetProperty("state").GetString() == "halted");
        Assert.That(halted.GetProperty("pause_reason").GetString(),
            Does.Match(@"^halted in phase 1 of 2 \(50 %\): its failure gate failed: [12] of 2 attempts failed or rolled back \((50|100) %\), above the phase's 20 % maximum"),
            "judged at the second device's first report or at its failure, whichever the pass sees first");
        Assert.That(halted.GetProperty("rollout_percentage").GetInt32(), Is.EqualTo(50));
        var (third, thirdSummary) = Simulate(reached[2], "1.0.0");
        Assert.That((third, thirdSummary), Is.EqualTo((0, "paku-ota-sim: up to date at 1.0.0")), "a halted rollout offers nothing");
    }

    private async Task<JsonElement> EventuallyAsync(string rollout, Func<JsonElement, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var view = await _admin.GetFromJsonAsync<JsonElement>($"/api/admin/rollout/{rollout}");
            if (condition(view))
            {
                return view;
            }

            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), "the rollout never got there: " + view);
            await Task.Delay(100);
        }
    }

    private async Task CreatePhasedRolloutAsync(string name, string version, object phases, object? threshold = null)
    {
        var response = await _admin.PostAsJsonAsync("/api/admin/rollout/create", new Dictionary<string, object?>
        {
            ["name"] = name,
            ["firmware_version"] = version,
            ["device_model"] = "esp32",
            ["target_type"] = "canary",
            ["phases"] = phases,
            ["failure_threshold"] = threshold ?? new { percent = 100, minimum_attempts = 1 },
        });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
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

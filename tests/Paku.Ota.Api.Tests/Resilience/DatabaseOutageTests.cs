using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Resilience;

/// <summary>PostgreSQL goes away under device traffic and comes back. A cluster of its own is started
/// for this, so stopping it disturbs no other test.</summary>
[NonParallelizable]
public sealed class DatabaseOutageTests
{
    private string _clusterDir = null!;
    private string _port = null!;
    private string _connectionString = null!;

    [OneTimeSetUp]
    public void StartCluster()
    {
        _clusterDir = Path.Combine(Path.GetTempPath(), "paku-outage-" + Guid.NewGuid().ToString("N")[..8]);
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            _port = ((IPEndPoint)listener.LocalEndpoint).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        _connectionString = Script("pg-start.sh").Trim().Split('\n')[^1] + ";Timeout=3";
        var outcome = new Migrator(_connectionString, NullLoggerFactory.Instance).Run();
        Assert.That(outcome.Succeeded, Is.True, outcome.Failure);
    }

    [OneTimeTearDown]
    public void StopCluster()
    {
        Script("pg-stop.sh");
        Directory.Delete(_clusterDir, recursive: true);
    }

    [Test]
    public async Task Device_calls_get_503_while_the_database_is_down_lose_no_acknowledged_report_and_recover_by_themselves()
    {
        var db = new FleetDataFor(_connectionString);
        await db.SeedAsync();
        await using var factory = new ApiFactory(_connectionString, new Dictionary<string, string?>
        {
            ["Ota:RateLimit:DeviceRequestsPerWindow"] = "100000",
        });
        using var client = factory.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(30);
        for (var d = 0; d < 4; d++)
        {
            var registered = await client.GetAsync($"/api/firmware/check?device_id=dev{d}&device_model=esp32&current_version=1.0.0");
            Assert.That(registered.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        }

        var outcomes = new ConcurrentBag<(string Kind, HttpStatusCode Status, bool RetryAfter, TimeSpan Took)>();
        var acknowledged = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var counter = 0;

        async Task Traffic(int device)
        {
            while (!stop.IsCancellationRequested)
            {
                var token = $"r{Interlocked.Increment(ref counter)}";
                var watch = Stopwatch.StartNew();
                var report = await client.PostAsJsonAsync($"/api/device/dev{device}/update-status",
                    new { device_id = $"dev{device}", firmware_version = "1.1.0", status = "downloading", progress_percent = 10, error_message = token });
                outcomes.Add(("status", report.StatusCode, report.Headers.RetryAfter is not null, watch.Elapsed));
                if (report.StatusCode == HttpStatusCode.OK)
                {
                    acknowledged.Add(token);
                }

                watch.Restart();
                var check = await client.GetAsync($"/api/firmware/check?device_id=dev{device}&device_model=esp32&current_version=1.0.0");
                outcomes.Add(("check", check.StatusCode, check.Headers.RetryAfter is not null, watch.Elapsed));
                await Task.Delay(20);
            }
        }

        var traffic = Enumerable.Range(0, 4).Select(Traffic).ToArray();
        await Task.Delay(1000);
        Script("pg-stop.sh");
        await Task.Delay(3000);
        var health = await client.GetAsync("/health");
        Script("pg-start.sh");

        // recovery: without any restart of the service, checks succeed again
        var recovered = false;
        var deadline = Stopwatch.StartNew();
        while (!recovered && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(250);
            recovered = (await client.GetAsync("/api/firmware/check?device_id=dev0&device_model=esp32&current_version=1.0.0")).StatusCode == HttpStatusCode.OK;
        }

        await Task.Delay(500);
        await stop.CancelAsync();
        await Task.WhenAll(traffic);

        await using var connection = new NpgsqlConnection(_connectionString + ";Pooling=false");
        var stored = (await connection.QueryAsync<string>("select error_message from device_update_status")).ToHashSet();
        var all = outcomes.ToList();
        Assert.Multiple(() =>
        {
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(recovered, Is.True, "checks succeed again once PostgreSQL is back");
            Assert.That(all.Select(o => o.Status).Distinct(), Is.SubsetOf(new[] { HttpStatusCode.OK, HttpStatusCode.ServiceUnavailable }));
            Assert.That(all.Count(o => o.Status == HttpStatusCode.ServiceUnavailable), Is.GreaterThan(0), "the outage was seen");
            Assert.That(all.Where(o => o.Status == HttpStatusCode.ServiceUnavailable).All(o => o.RetryAfter), Is.True, "every 503 says when to retry");
            Assert.That(all.Max(o => o.Took), Is.LessThan(TimeSpan.FromSeconds(10)), "no request hangs");
            Assert.That(acknowledged.Where(t => !stored.Contains(t)), Is.Empty, "every acknowledged report is stored");
            Assert.That(all.Count(o => o.Kind == "status" && o.Status == HttpStatusCode.OK), Is.GreaterThan(10));
        });
    }

    private string Script(string name)
    {
        var repo = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (repo is not null && !File.Exists(Path.Combine(repo.FullName, "Paku.Ota.sln")))
        {
            repo = repo.Parent;
        }

        var start = new ProcessStartInfo("bash", [Path.Combine(repo!.FullName, "scripts", name)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["PAKU_PG_DIR"] = _clusterDir;
        start.Environment["PAKU_PG_PORT"] = _port;
        start.Environment["PAKU_PG_DB"] = "paku_outage";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, $"{name} failed: {errors}");
        return output;
    }

    private sealed class FleetDataFor(string connectionString)
    {
        public async Task SeedAsync()
        {
            await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false");
            var image = FleetData.Image(1000);
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(image));
            await connection.ExecuteAsync("""
                insert into firmware_binaries (sha256, size_bytes, content) values (@sha, 1000, @image);
                insert into firmware_releases (version, device_model, checksum_sha256, size_bytes) values ('1.1.0', 'esp32', @sha, 1000);
                insert into rollouts (name, release_id, firmware_version, device_model, target_type)
                select 'all', id, version, device_model, 'all' from firmware_releases;
                """, new { sha, image });
        }
    }
}

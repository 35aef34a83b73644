using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Observability;

/// <summary>A real Prometheus (Debian's package, installed by scripts/install-test-deps.sh) scrapes the
/// running service and finds the OTA metrics.</summary>
[NonParallelizable]
public sealed class PrometheusScrapeTests
{
    [Test]
    public async Task Prometheus_scrapes_the_service_and_finds_the_ota_metrics()
    {
        const string binary = "/usr/bin/prometheus";
        Assert.That(File.Exists(binary), Is.True, "Prometheus is not installed; run scripts/install-test-deps.sh (test.sh does)");

        await using var db = await TestDatabase.CreateAsync("paku_test_prometheus");
        await using var server = await RealServer.StartAsync(db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Devices:AllowPlainHttp"] = "true",
            ["Ota:Metrics:RefreshSeconds"] = "1",
        });
        using var device = new HttpClient { BaseAddress = server.Http };
        var check = await device.GetAsync("/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0");
        Assert.That(check.StatusCode, Is.EqualTo(HttpStatusCode.OK));

        var work = Directory.CreateTempSubdirectory("paku-prometheus-").FullName;
        var port = FreePort();
        await File.WriteAllTextAsync(Path.Combine(work, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
            scrape_configs:
              - job_name: paku-ota
                metrics_path: /metrics
                static_configs:
                  - targets: ["127.0.0.1:{server.HttpPort}"]
            """);
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
                 {
                     $"--config.file={work}/prometheus.yml", $"--storage.tsdb.path={work}/data",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            start.ArgumentList.Add(argument);
        }

        using var prometheus = Process.Start(start)!;
        _ = prometheus.StandardOutput.ReadToEndAsync();
        var log = prometheus.StandardError.ReadToEndAsync();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var checks = await QueryUntilFoundAsync(api, "ota_checks_total{outcome=\"up_to_date\"}");
            var devices = await QueryUntilFoundAsync(api, "ota_devices{model=\"esp32\",version=\"1.0.0\"}");
            var up = await QueryUntilFoundAsync(api, "up{job=\"paku-ota\"}");

            Assert.That(checks, Is.GreaterThanOrEqualTo(1), await Describe(log, prometheus));
            Assert.That(devices, Is.EqualTo(1));
            Assert.That(up, Is.EqualTo(1));
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The value of a one-series query, once Prometheus has scraped it (30 s at most).</summary>
    private static async Task<double> QueryUntilFoundAsync(HttpClient api, string query)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var answer = JsonDocument.Parse(await api.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)));
                var result = answer.RootElement.GetProperty("data").GetProperty("result");
                if (result.GetArrayLength() > 0)
                {
                    return double.Parse(result[0].GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(500);
        }

        Assert.Fail($"Prometheus never had a series for {query}");
        return 0;
    }

    private static async Task<string> Describe(Task<string> log, Process process) =>
        process.HasExited ? await log : "prometheus is running";

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Downloads over real TLS from readers that stop reading: one device certificate cannot hold
/// the download slots of the fleet, and a stalled response is cut so that its slot comes back. The
/// service allows 4 downloads in all, 2 per device, and cuts a reader stalled for 2 s.</summary>
[NonParallelizable]
public sealed class DownloadHoardingTests
{
    private const string Download = "/api/firmware/download/1.1.0?device_model=esp32";
    private static readonly byte[] Image = FleetData.Image(16 * 1024 * 1024);

    private TestDatabase _db = null!;
    private RealServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_hoarding");
        _server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Downloads:MaxConcurrent"] = "4",
            ["Ota:Downloads:MaxPerDevice"] = "2",
            ["Ota:Downloads:StallTimeoutSeconds"] = "2",
            ["Ota:RateLimit:DeviceRequestsPerWindow"] = "100000",
        });
        await new FleetData(_db).AddReleaseAsync("esp32", "1.1.0", Image);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task One_certificate_opening_many_stalled_downloads_cannot_stop_another_devices_download()
    {
        using var hoarder = _server.IssueDevice("esp32_hoarder");
        var stalled = new List<SslStream>();
        try
        {
            for (var i = 0; i < 8; i++)
            {
                stalled.Add(await OpenStalledDownloadAsync(hoarder));
            }

            using var other = _server.IssueDevice("esp32_other");
            using var client = _server.DeviceClient(other);
            var response = await client.GetAsync(Download);

            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
            Assert.That(SHA256.HashData(await response.Content.ReadAsByteArrayAsync()), Is.EqualTo(SHA256.HashData(Image)));
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    [Test]
    public async Task A_device_past_its_own_limit_gets_429_with_retry_after()
    {
        using var device = _server.IssueDevice("esp32_greedy");
        var stalled = new List<SslStream> { await OpenStalledDownloadAsync(device), await OpenStalledDownloadAsync(device) };
        try
        {
            using var client = _server.DeviceClient(device);
            var third = await client.GetAsync(Download);

            Assert.That(third.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
            Assert.That(third.Headers.RetryAfter, Is.Not.Null);
            Assert.That(await third.Content.ReadAsStringAsync(), Does.Contain("already has 2 firmware downloads in progress"));
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
    }

    [Test]
    public async Task A_stalled_download_is_cut_and_its_slot_freed()
    {
        using var device = _server.IssueDevice("esp32_stalls");
        using var first = await OpenStalledDownloadAsync(device);
        using var second = await OpenStalledDownloadAsync(device);
        using var client = _server.DeviceClient(device);

        // the two stalled responses hold the device's slots until they are cut
        var freed = false;
        for (var attempt = 0; attempt < 120 && !freed; attempt++)
        {
            var response = await client.GetAsync(Download);
            freed = response.StatusCode == HttpStatusCode.OK;
            if (!freed)
            {
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.TooManyRequests));
                await Task.Delay(250);
            }
        }

        Assert.That(freed, Is.True, "a slot came back once a stalled response was cut");
        Assert.That(await DrainAsync(first), Is.LessThan(Image.Length), "the stalled response was cut, not completed");
    }

    /// <summary>Sends a download request over TLS with <paramref name="certificate"/> and never reads the answer.</summary>
    private async Task<SslStream> OpenStalledDownloadAsync(X509Certificate2 certificate)
    {
        var tcp = new TcpClient();
        tcp.ReceiveBufferSize = 64 * 1024;
        await tcp.ConnectAsync(IPAddress.Loopback, _server.HttpsPort);
        var tls = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ClientCertificates = [certificate],
            RemoteCertificateValidationCallback = (_, _, _, _) => true,
        });
        await tls.WriteAsync(Encoding.ASCII.GetBytes($"GET {Download} HTTP/1.1\r\nHost: localhost\r\n\r\n"));
        await tls.FlushAsync();
        // the server takes the slot before its answer starts: wait for the answer's first byte, then read no
        // more (a fixed pause was not always enough on a busy machine, and the next request then found a slot)
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await tls.ReadExactlyAsync(new byte[1], timeout.Token);
        return tls;
    }

    /// <summary>Reads what the server sent before it closed the connection.</summary>
    private static async Task<long> DrainAsync(SslStream stream)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            int read;
            while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
            {
                total += read;
            }
        }
        catch (IOException)
        {
            // reset by the server
        }

        return total;
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Device identity over real TLS: certificates made here, a real Kestrel listener, the
/// production profile (no plain-HTTP device access).</summary>
[NonParallelizable]
public sealed class DeviceMutualTlsTests
{
    private TestDatabase _db = null!;
    private RealServer _server = null!;
    private FleetData _fleet = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_mtls");
        _fleet = new FleetData(_db);
        _server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Devices:ForwardedCertificateHeader"] = "X-Client-Cert",
            ["Ota:Devices:TrustedProxies:0"] = "127.0.0.1",
        });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        Refresh();
    }

    private void Refresh() =>
        ((Application.Catalog.ICatalog)_server.Services.GetService(typeof(Application.Catalog.ICatalog))!).Invalidate();

    private static string CheckUrl(string id, string version = "1.0.0") => $"/api/firmware/check?device_id={id}&device_model=esp32&current_version={version}";

    [Test]
    public async Task A_device_with_a_fleet_certificate_is_answered()
    {
        using var cert = _server.IssueDevice("esp32_001");
        using var client = _server.DeviceClient(cert);

        var response = await client.GetAsync(CheckUrl("esp32_001"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    [TestCase("/api/firmware/download/9.9.9?device_model=esp32", true, HttpStatusCode.NotFound)]
    [TestCase("/api/firmware/download/1.0.0?device_model=esp32", false, HttpStatusCode.Unauthorized)]
    [TestCase("/api/device/esp32_001/update-status", true, HttpStatusCode.MethodNotAllowed)]
    public async Task HEAD_over_HTTP2_gets_its_error_status_without_a_body(string path, bool withCertificate, HttpStatusCode status)
    {
        using var cert = _server.IssueDevice("esp32_001");
        using var client = _server.DeviceClient(withCertificate ? cert : null);
        var request = new HttpRequestMessage(HttpMethod.Head, path) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        var response = await client.SendAsync(request);

        Assert.That(response.Version, Is.EqualTo(HttpVersion.Version20));
        Assert.That(response.StatusCode, Is.EqualTo(status));
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.Empty);
    }

    [Test]
    public async Task A_blocked_device_is_refused_403_with_the_reason_whatever_its_certificate_says()
    {
        using var cert = _server.IssueDevice("esp32_001");
        using var client = _server.DeviceClient(cert);
        using var admin = new HttpClient { BaseAddress = _server.Http };
        admin.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.WriteKey);

        var block = await admin.PutAsJsonAsync("/api/admin/devices/esp32_001/block", new { reason = "certificate cloned" });
        var response = await client.GetAsync(CheckUrl("esp32_001"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(block.StatusCode, Is.EqualTo(HttpStatusCode.OK), await block.Content.ReadAsStringAsync());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("is blocked: certificate cloned"));
    }

    [Test]
    public async Task Without_a_certificate_the_device_is_refused_and_told_why()
    {
        using var client = _server.DeviceClient(certificate: null);

        var response = await client.GetAsync(CheckUrl("esp32_001"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("client certificate"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }

    [Test]
    public async Task Plain_http_device_calls_are_refused_outside_the_development_profile()
    {
        using var client = new HttpClient { BaseAddress = _server.Http };

        var response = await client.GetAsync(CheckUrl("esp32_001"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [TestCase("O=Paku fleet, OU=warehouse", "has no common name (CN)")]
    [TestCase("CN=esp32_001, CN=esp32_002", "has more than one common name (CN)")]
    public async Task A_fleet_certificate_that_names_no_single_device_is_refused_saying_so(string subject, string reason)
    {
        using var cert = IssueWithSubject(subject);
        using var client = _server.DeviceClient(cert);

        var response = await client.GetAsync(CheckUrl("esp32_001"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("is issued by the fleet CA but " + reason));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }

    private X509Certificate2 IssueWithSubject(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName(subject), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_server.FleetCa, true, false));
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var issued = request.Create(_server.FleetCa, now, now.AddDays(10), RandomNumberGenerator.GetBytes(16).Select((b, i) => i == 0 ? (byte)(b & 0x7F) : b).ToArray());
        return issued.CopyWithPrivateKey(key);
    }

    [Test]
    public async Task A_certificate_from_another_ca_is_refused()
    {
        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var rogueCa = FleetCertificates.CreateAuthority("Rogue CA", now, now.AddDays(10));
        using var cert = _server.IssueDevice("esp32_001", issuer: rogueCa);
        using var client = _server.DeviceClient(cert);

        var response = await client.GetAsync(CheckUrl("esp32_001"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("not issued by the fleet CA"));
    }

    [Test]
    public async Task An_expired_certificate_is_refused()
    {
        using var cert = _server.IssueDevice("esp32_001", notBefore: DateTimeOffset.UtcNow.AddDays(-10), notAfter: DateTimeOffset.UtcNow.AddDays(-1));
        using var client = _server.DeviceClient(cert);

        var response = await client.GetAsync(CheckUrl("esp32_001"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("expired"));
    }

    [Test]
    public async Task A_device_may_not_act_as_another_device()
    {
        using var cert = _server.IssueDevice("esp32_001");
        using var client = _server.DeviceClient(cert);

        var check = await client.GetAsync(CheckUrl("esp32_002"));
        var report = await client.PostAsJsonAsync("/api/device/esp32_002/update-status",
            new { device_id = "esp32_002", firmware_version = "1.1.0", status = "failed", progress_percent = 0 });
        var problem = await check.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(check.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(report.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("'esp32_001'").And.Contain("'esp32_002'"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }

    [Test]
    public async Task The_seed_device_flow_runs_over_mutual_tls_and_ends_confirmed()
    {
        var image = FleetData.Image(300_000, seed: 3);
        await _fleet.AddReleaseAsync("esp32", "1.1.0", image);
        await _fleet.AddRolloutAsync("all-1.1.0", "esp32", "1.1.0", "all");
        Refresh();
        using var cert = _server.IssueDevice("esp32_001");
        using var client = _server.DeviceClient(cert);

        // check
        var answer = await client.GetFromJsonAsync<JsonElement>(CheckUrl("esp32_001"));
        Assert.That(answer.GetProperty("update_available").GetBoolean(), Is.True);
        var url = answer.GetProperty("download_url").GetString()!;
        await Report(client, "downloading", 0);

        // download, interrupted after 100 kB and resumed with a Range request
        using (var first = new HttpRequestMessage(HttpMethod.Get, url))
        {
            first.Headers.Range = new RangeHeaderValue(0, 99_999);
            var part = await client.SendAsync(first);
            Assert.That(part.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
            var head = await part.Content.ReadAsByteArrayAsync();
            await Report(client, "downloading", 33);

            using var rest = new HttpRequestMessage(HttpMethod.Get, url);
            rest.Headers.Range = new RangeHeaderValue(head.Length, null);
            var tail = await (await client.SendAsync(rest)).Content.ReadAsByteArrayAsync();
            var whole = head.Concat(tail).ToArray();
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(whole)), Is.EqualTo(answer.GetProperty("checksum_sha256").GetString()));
        }

        await Report(client, "installing", 100);
        await Report(client, "success", 100);

        // reboot into the new image and check in
        var after = await client.GetFromJsonAsync<JsonElement>(CheckUrl("esp32_001", "1.1.0"));

        Assert.That(after.GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That(await _fleet.ScalarAsync<string>("select status from rollout_devices where device_id = 'esp32_001'"), Is.EqualTo("confirmed"));
        Assert.That(await _fleet.ScalarAsync<string>("select current_firmware_version from devices where device_id = 'esp32_001'"), Is.EqualTo("1.1.0"));

        static async Task Report(HttpClient client, string status, int progress)
        {
            var response = await client.PostAsJsonAsync("/api/device/esp32_001/update-status",
                new { device_id = "esp32_001", firmware_version = "1.1.0", status, progress_percent = progress });
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        }
    }

    [Test]
    public async Task A_certificate_forwarded_by_a_trusted_proxy_identifies_the_device()
    {
        using var cert = _server.IssueDevice("esp32_001");
        using var client = new HttpClient { BaseAddress = _server.Http };
        client.DefaultRequestHeaders.Add("X-Client-Cert", Uri.EscapeDataString(cert.ExportCertificatePem()));

        var own = await client.GetAsync(CheckUrl("esp32_001"));
        var other = await client.GetAsync(CheckUrl("esp32_002"));

        Assert.That(own.StatusCode, Is.EqualTo(HttpStatusCode.OK), await own.Content.ReadAsStringAsync());
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
    }

    [Test]
    public async Task Two_forwarded_certificates_from_the_trusted_proxy_are_refused_not_the_first_taken()
    {
        using var own = _server.IssueDevice("esp32_001");
        using var other = _server.IssueDevice("esp32_002");
        using var client = new HttpClient { BaseAddress = _server.Http };
        var joined = new HttpRequestMessage(HttpMethod.Get, CheckUrl("esp32_001"));
        joined.Headers.TryAddWithoutValidation("X-Client-Cert", [Uri.EscapeDataString(own.ExportCertificatePem()), Uri.EscapeDataString(other.ExportCertificatePem())]);

        var oneLine = await client.SendAsync(joined);
        var twoLines = await RawStatusAsync(_server.HttpPort,
            $"GET {CheckUrl("esp32_001")} HTTP/1.1\r\nHost: localhost\r\n" +
            $"X-Client-Cert: {Uri.EscapeDataString(own.ExportCertificatePem())}\r\nX-Client-Cert: {Uri.EscapeDataString(other.ExportCertificatePem())}\r\n" +
            "Connection: close\r\n\r\n");

        var problem = await oneLine.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(oneLine.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("more than one X-Client-Cert certificate"));
        Assert.That(twoLines, Does.StartWith("HTTP/1.1 400"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }

    private static async Task<string> RawStatusAsync(int port, string request)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream);
        return await reader.ReadLineAsync() ?? "";
    }

    [Test]
    public async Task A_forwarded_certificate_header_is_ignored_from_an_untrusted_address()
    {
        await using var server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Devices:ForwardedCertificateHeader"] = "X-Client-Cert",
            ["Ota:Devices:TrustedProxies:0"] = "192.0.2.10",
        });
        using var cert = server.IssueDevice("esp32_001");
        using var client = new HttpClient { BaseAddress = server.Http };
        client.DefaultRequestHeaders.Add("X-Client-Cert", Uri.EscapeDataString(cert.ExportCertificatePem()));

        var response = await client.GetAsync(CheckUrl("esp32_001"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }
}

using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>The fleet CA's CRL (Ota:Devices:Crl:Path) over real TLS, with CRLs made by .NET's
/// CertificateRevocationListBuilder: a revoked device certificate (or intermediate) is refused 401 with the reason,
/// a changed CRL is read again and takes effect on open connections too, and a CRL the fleet CA did not sign or that
/// has expired stops the start with the reason (or, arriving later, is logged and the previous list kept).</summary>
[NonParallelizable]
public sealed class RevocationListTests
{
    private TestDatabase _db = null!;
    private RealServer _server = null!;
    private X509Certificate2 _ca = null!;
    private X509Certificate2 _stolen = null!;
    private X509Certificate2 _honest = null!;
    private string _crlPath = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_crl");
        _ca = FleetCertificates.CreateAuthority("Test fleet CA", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
        _stolen = FleetCertificates.IssueDevice(_ca, "esp32_stolen", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(10));
        _honest = FleetCertificates.IssueDevice(_ca, "esp32_honest", DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(10));
        _crlPath = Path.Combine(Path.GetTempPath(), $"paku-crl-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(_crlPath, ChainKit.Crl(_ca, [_stolen], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7)));
        _server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Devices:Crl:Path"] = _crlPath,
            ["Ota:Devices:Crl:ReloadSeconds"] = "3600", // the tests reload by hand, so nothing depends on timing
        }, _ca);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _db.DisposeAsync();
        _stolen.Dispose();
        _honest.Dispose();
        File.Delete(_crlPath);
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        await File.WriteAllTextAsync(_crlPath, ChainKit.Crl(_ca, [_stolen], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7), number: 10));
        File.SetLastWriteTimeUtc(_crlPath, DateTime.UtcNow.AddSeconds(-Random.Shared.Next(10, 1000)));
        Trust.Reload();
        _server.ErrorLogs.Clear();
    }

    private FleetTrust Trust => _server.Services.GetRequiredService<FleetTrust>();

    [Test]
    public async Task A_revoked_device_certificate_is_refused_401_with_the_reason_and_others_are_served()
    {
        using var stolen = _server.DeviceClient(_stolen);
        using var honest = _server.DeviceClient(_honest);

        var refused = await stolen.GetAsync(Check("esp32_stolen"));
        var served = await honest.GetAsync(Check("esp32_honest"));

        await AssertRevokedAsync(refused, $"the client certificate (serial {_stolen.SerialNumber}) was revoked on");
        Assert.That(served.StatusCode, Is.EqualTo(HttpStatusCode.OK), await served.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task A_changed_CRL_is_read_again_and_refuses_a_device_on_its_open_connection()
    {
        using var honest = _server.DeviceClient(_honest);
        var before = await honest.GetAsync(Check("esp32_honest"));

        await File.WriteAllTextAsync(_crlPath, ChainKit.Crl(_ca, [_stolen, _honest], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7), number: 11));
        File.SetLastWriteTimeUtc(_crlPath, DateTime.UtcNow);
        Trust.Reload();
        var after = await honest.GetAsync(Check("esp32_honest"));

        Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.OK), await before.Content.ReadAsStringAsync());
        await AssertRevokedAsync(after, "was revoked on");
    }

    [Test]
    public async Task A_revoked_intermediate_refuses_every_device_under_it()
    {
        using var intermediate = ChainKit.Intermediate(_ca, "Factory line 3 CA");
        using var device = ChainKit.Device(intermediate, "esp32_line3");
        await File.WriteAllTextAsync(_crlPath, ChainKit.Crl(_ca, [intermediate], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7), number: 12));
        File.SetLastWriteTimeUtc(_crlPath, DateTime.UtcNow);
        Trust.Reload();
        using var client = _server.DeviceClient(device, [intermediate]);

        var response = await client.GetAsync(Check("esp32_line3"));

        await AssertRevokedAsync(response, "the intermediate CA 'CN=Factory line 3 CA'");
    }

    [Test]
    public async Task A_changed_CRL_not_signed_by_the_fleet_CA_is_logged_and_the_previous_list_stays_in_force()
    {
        using var impostor = ChainKit.ForeignRoot("Test fleet CA");
        await File.WriteAllTextAsync(_crlPath, ChainKit.Crl(impostor, [], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7)));
        File.SetLastWriteTimeUtc(_crlPath, DateTime.UtcNow);

        Trust.Reload();
        using var stolen = _server.DeviceClient(_stolen);
        var response = await stolen.GetAsync(Check("esp32_stolen"));

        Assert.That(_server.ErrorLogs.Entries, Has.Some.Contains("was not reloaded").And.Contains("not signed by the fleet CA").And.Contains("stays in force"));
        await AssertRevokedAsync(response, "was revoked on");
    }

    [Test]
    public async Task A_CRL_not_signed_by_the_fleet_CA_stops_the_start_with_the_reason()
    {
        using var impostor = ChainKit.ForeignRoot("Test fleet CA");
        var path = Path.Combine(Path.GetTempPath(), $"paku-crl-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, ChainKit.Crl(impostor, [], DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(7)));
        try
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
                await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:Devices:Crl:Path"] = path }));

            Assert.That(failure!.Message, Does.Contain($"Ota:Devices:Crl:Path '{path}' cannot be used").And.Contain("not signed by the fleet CA"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public async Task An_expired_CRL_stops_the_start_with_the_reason()
    {
        var ca = FleetCertificates.CreateAuthority("Test fleet CA", DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(Path.GetTempPath(), $"paku-crl-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(path, ChainKit.Crl(ca, [], DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(-3)));
        try
        {
            var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
                await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:Devices:Crl:Path"] = path }, ca));

            Assert.That(failure!.Message, Does.Contain("cannot be used").And.Contain("expired on"));
        }
        finally
        {
            File.Delete(path);
            ca.Dispose();
        }
    }

    private static string Check(string id) => $"/api/firmware/check?device_id={id}&device_model=esp32&current_version=1.0.0";

    private async Task AssertRevokedAsync(HttpResponseMessage response, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), body);
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString();
        Assert.That(detail, Does.Contain(reason).And.Contain("(the fleet CA's CRL)"));
        Assert.That(_server.ErrorLogs.Entries, Has.None.Contains("DeviceCertificate"), "a refusal is no server error");
    }
}

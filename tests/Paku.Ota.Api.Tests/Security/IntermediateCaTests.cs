using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Device certificates issued by intermediate CAs under the fleet CA, over real TLS with the chain
/// presented in the handshake: accepted within the rules (the fleet CA the only trust anchor, CA basic
/// constraints, keyCertSign, path lengths, Ota:Devices:Intermediates), refused with the reason otherwise.</summary>
[NonParallelizable]
public sealed class IntermediateCaTests
{
    private TestDatabase _db = null!;
    private RealServer _server = null!;
    private RealServer _noIntermediates = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_intermediates");
        _server = await RealServer.StartAsync(_db.ConnectionString);
        _noIntermediates = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Devices:Intermediates:Enabled"] = "false",
        });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _noIntermediates.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task A_device_certificate_from_an_intermediate_under_the_fleet_CA_is_accepted_with_the_chain_presented()
    {
        using var intermediate = ChainKit.Intermediate(_server.FleetCa, "Factory line 3 CA");
        using var device = ChainKit.Device(intermediate, "esp32_line3");

        var response = await CheckAsync(_server, device, [intermediate], "esp32_line3");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        Assert.That(await new FleetData(_db).ScalarAsync<long>("select count(*) from devices where device_id = 'esp32_line3'"), Is.EqualTo(1));
    }

    [Test]
    public async Task Without_the_intermediate_presented_it_is_refused_and_told_why()
    {
        using var intermediate = ChainKit.Intermediate(_server.FleetCa, "Factory line 3 CA");
        using var device = ChainKit.Device(intermediate, "esp32_line3");

        var response = await CheckAsync(_server, device, chain: null, "esp32_line3");

        await AssertRefusedAsync(response, "no chain to the fleet CA was presented");
    }

    [Test]
    public async Task With_intermediates_turned_off_it_is_refused_naming_the_setting()
    {
        using var intermediate = ChainKit.Intermediate(_noIntermediates.FleetCa, "Factory line 3 CA");
        using var device = ChainKit.Device(intermediate, "esp32_line3");

        var response = await CheckAsync(_noIntermediates, device, [intermediate], "esp32_line3");

        await AssertRefusedAsync(response, "Ota:Devices:Intermediates:Enabled");
    }

    [Test]
    public async Task An_intermediate_that_is_no_CA_cannot_issue_device_certificates()
    {
        using var notCa = ChainKit.Intermediate(_server.FleetCa, "Not a CA", ca: false);
        using var device = ChainKit.Device(notCa, "esp32_rogue");

        var response = await CheckAsync(_server, device, [notCa], "esp32_rogue");

        await AssertRefusedAsync(response, "is not a CA (basic constraints)");
    }

    [Test]
    public async Task An_intermediate_without_keyCertSign_cannot_issue_device_certificates()
    {
        using var noSign = ChainKit.Intermediate(_server.FleetCa, "No signing CA", keyCertSign: false);
        using var device = ChainKit.Device(noSign, "esp32_rogue");

        var response = await CheckAsync(_server, device, [noSign], "esp32_rogue");

        await AssertRefusedAsync(response, "keyCertSign");
    }

    [Test]
    public async Task Two_intermediates_break_the_fleet_CAs_path_length_and_the_depth_limit()
    {
        using var first = ChainKit.Intermediate(_server.FleetCa, "Region CA", pathLength: 1);
        using var second = ChainKit.Intermediate(first, "Factory CA");
        using var device = ChainKit.Device(second, "esp32_deep");

        var response = await CheckAsync(_server, device, [second, first], "esp32_deep");

        await AssertRefusedAsync(response, "intermediate CAs");
    }

    [Test]
    public async Task An_intermediate_path_length_of_zero_allows_no_CA_under_it()
    {
        using var first = ChainKit.Intermediate(_server.FleetCa, "Region CA", pathLength: 0);
        using var second = ChainKit.Intermediate(first, "Factory CA");
        using var device = ChainKit.Device(second, "esp32_deep");

        var response = await CheckAsync(_server, device, [second, first], "esp32_deep");

        await AssertRefusedAsync(response, "'CN=Region CA' allows 0 intermediate CAs under it (path length)");
    }

    [Test]
    public async Task A_presented_chain_to_another_root_is_refused_the_fleet_CA_stays_the_only_anchor()
    {
        using var foreign = ChainKit.ForeignRoot("Test fleet CA");
        using var intermediate = ChainKit.Intermediate(foreign, "Factory line 3 CA");
        using var device = ChainKit.Device(intermediate, "esp32_line3");

        var response = await CheckAsync(_server, device, [intermediate, foreign], "esp32_line3");

        await AssertRefusedAsync(response, "fleet CA");
    }

    private static async Task<HttpResponseMessage> CheckAsync(RealServer server, X509Certificate2 device, X509Certificate2[]? chain, string id)
    {
        using var client = server.DeviceClient(device, chain);
        return await client.GetAsync($"/api/firmware/check?device_id={id}&device_model=esp32&current_version=1.0.0");
    }

    private async Task AssertRefusedAsync(HttpResponseMessage response, string reason)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), body);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString();
        Assert.That(detail, Does.StartWith("Device authentication failed: "));
        Assert.That(detail, Does.Contain(reason));
        Assert.That(await new FleetData(_db).ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }
}

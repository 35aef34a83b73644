using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Two faces on real listeners: the device listener (HTTPS, client certificates) serves the device
/// API and /health only; the admin API, /metrics and /openapi are on the admin listener, which is on
/// loopback unless configured otherwise, and /metrics can require a bearer token.</summary>
[NonParallelizable]
public sealed class ListenerTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task Start() => _db = await TestDatabase.CreateAsync("paku_test_listeners");

    [OneTimeTearDown]
    public async Task Stop() => await _db.DisposeAsync();

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [TestCase("GET", "/api/admin/devices")]
    [TestCase("GET", "/api/admin/audit")]
    [TestCase("POST", "/api/admin/rollout/create")]
    [TestCase("GET", "/metrics")]
    [TestCase("GET", "/openapi/v1.json")]
    public async Task The_device_listener_does_not_serve_the_admin_surfaces(string method, string path)
    {
        await using var server = await RealServer.StartAsync(_db.ConnectionString);
        using var certificate = server.IssueDevice("esp32_001");
        using var device = server.DeviceClient(certificate);
        var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? new StringContent("{\"name\":\"r1\"}", null, "application/json") : null,
        };
        request.Headers.Add("X-API-Key", ApiFactory.WriteKey);

        var response = await device.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), await response.Content.ReadAsStringAsync());
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That((await device.GetAsync("/health")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "health is on both faces");
        Assert.That((await device.GetAsync("/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0")).StatusCode,
            Is.EqualTo(HttpStatusCode.OK), "the device API is served");
    }

    [Test]
    public async Task The_admin_listener_serves_the_admin_API_metrics_openapi_and_health()
    {
        await using var server = await RealServer.StartAsync(_db.ConnectionString);
        using var admin = new HttpClient { BaseAddress = server.Http };
        admin.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.WriteKey);

        foreach (var path in new[] { "/api/admin/devices", "/metrics", "/openapi/v1.json", "/health" })
        {
            var response = await admin.GetAsync(path);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
        }
    }

    [Test]
    public async Task The_admin_listener_is_on_loopback_unless_configured_while_devices_listen_on_every_interface()
    {
        await using var server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:ListenAddress"] = "0.0.0.0" });

        var addresses = server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;

        Assert.That(addresses, Is.EquivalentTo(new[] { $"http://127.0.0.1:{server.HttpPort}", $"https://0.0.0.0:{server.HttpsPort}" }));
    }

    [Test]
    public async Task With_a_bearer_token_configured_metrics_are_scraped_only_with_it()
    {
        await using var server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:Metrics:BearerToken"] = "scrape-secret" });
        using var client = new HttpClient { BaseAddress = server.Http };

        var without = await client.GetAsync("/metrics");
        var wrong = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "guess") } });
        var right = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "scrape-secret") } });

        Assert.That(without.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(without.Headers.WwwAuthenticate.ToString(), Is.EqualTo("Bearer"));
        Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await right.Content.ReadAsStringAsync(), Does.Contain("# TYPE"));
    }
}

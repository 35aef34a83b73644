using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Application.Firmware.Artifacts;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Devices;

/// <summary>Offloaded downloads against a real nginx with the repository's secure_link configuration:
/// the service answers 302 to a signed, expiring link; nginx sends the image with the service's
/// validators and byte ranges, and refuses expired or forged links so the device asks the service again.</summary>
[NonParallelizable]
public sealed class OffloadedDownloadTests
{
    private const string Download = "/api/firmware/download/1.2.0?device_model=esp32";
    private static readonly byte[] Image = FirmwareTestKit.EspImage(300_000, seed: 7);
    private static readonly string Sha = FirmwareTestKit.Sha256Hex(Image);

    private TestDatabase _db = null!;
    private NginxArtifactServer _nginx = null!;
    private RealServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_offload");
        _nginx = await NginxArtifactServer.StartAsync();
        var settings = new Dictionary<string, string?>(_nginx.ServiceSettings())
        {
            ["Ota:Devices:AllowPlainHttp"] = "true",
            ["Ota:Downloads:MaxPerDevice"] = "100",
        };
        _server = await RealServer.StartAsync(_db.ConnectionString, settings);
        using var admin = new HttpClient { BaseAddress = _server.Http };
        admin.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.WriteKey);
        var upload = await admin.UploadAsync("version=1.2.0&device_model=esp32", Image);
        Assert.That(upload.StatusCode, Is.EqualTo(HttpStatusCode.Created), await upload.Content.ReadAsStringAsync());
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _nginx.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task A_device_is_redirected_to_a_signed_link_and_nginx_sends_the_image_with_the_services_validators()
    {
        using var device = _server.IssueDevice("esp32_offload");
        using var client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            SslOptions = { ClientCertificates = [device], RemoteCertificateValidationCallback = (_, _, _, _) => true },
        }) { BaseAddress = _server.Https };

        using var redirect = await client.GetAsync(Download);

        Assert.That(redirect.StatusCode, Is.EqualTo(HttpStatusCode.Found), await redirect.Content.ReadAsStringAsync());
        var link = redirect.Headers.Location!;
        Assert.That(link.GetLeftPart(UriPartial.Path), Is.EqualTo($"{_nginx.BaseUrl}/{Sha[..2]}/{Sha}"));
        Assert.That(link.Query, Does.Match("^\\?md5=[A-Za-z0-9_-]{22}&expires=[0-9]+$"));
        Assert.That(redirect.Headers.CacheControl?.NoStore, Is.True, "a link is the device's own, for a while");

        using var files = new HttpClient();
        using var image = await files.GetAsync(link);
        Assert.That(image.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await image.Content.ReadAsByteArrayAsync(), Is.EqualTo(Image));
        Assert.That(image.Headers.GetValues("X-Checksum-SHA256").Single(), Is.EqualTo(Sha));
        Assert.That(image.Headers.ETag?.Tag, Is.EqualTo($"\"{Sha}\""));
        Assert.That(image.Content.Headers.ContentLength, Is.EqualTo(Image.Length));
        Assert.That(image.Headers.AcceptRanges, Does.Contain("bytes"));
    }

    [Test]
    public async Task A_client_that_follows_redirects_gets_the_image_from_nginx_with_one_request_to_the_service()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 1 }) { BaseAddress = _server.Http };

        using var response = await client.GetAsync(Download);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.RequestMessage!.RequestUri!.Port, Is.EqualTo(_nginx.Port), "the bytes came from nginx");
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(Image));
    }

    [Test]
    public async Task A_resumed_download_gets_the_rest_of_the_image_as_206_from_nginx()
    {
        var link = await LinkFromServiceAsync();
        using var files = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, link) { Headers = { Range = new RangeHeaderValue(100_000, null) } };

        using var rest = await files.SendAsync(request);

        Assert.That(rest.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
        Assert.That(rest.Content.Headers.ContentRange?.ToString(), Is.EqualTo($"bytes 100000-{Image.Length - 1}/{Image.Length}"));
        Assert.That(await rest.Content.ReadAsByteArrayAsync(), Is.EqualTo(Image[100_000..]));
        Assert.That(rest.Headers.GetValues("X-Checksum-SHA256").Single(), Is.EqualTo(Sha), "the checksum is of the whole image");
    }

    [Test]
    public async Task An_expired_link_is_refused_410_a_forged_one_403_and_the_service_hands_out_a_fresh_one()
    {
        var links = _server.Services.GetRequiredService<IDownloadLinks>();
        var expired = links.LinkFor(Sha, Image.Length, DateTimeOffset.UtcNow.AddMinutes(-5))!;
        var valid = await LinkFromServiceAsync();
        var forged = new Uri(valid.AbsoluteUri.Replace("md5=", "md5=x", StringComparison.Ordinal));
        var otherImage = new Uri(valid.AbsoluteUri.Replace(Sha, new string('0', 64), StringComparison.Ordinal).Replace($"/{Sha[..2]}/", "/00/", StringComparison.Ordinal));
        using var files = new HttpClient();

        using var gone = await files.GetAsync(expired);
        using var forbidden = await files.GetAsync(forged);
        using var reused = await files.GetAsync(otherImage);

        Assert.That(gone.StatusCode, Is.EqualTo(HttpStatusCode.Gone));
        Assert.That(gone.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await gone.Content.ReadAsStringAsync(), Does.Contain("expired"));
        Assert.That(forbidden.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(reused.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden), "a signature is for one image only");

        var fresh = await LinkFromServiceAsync();
        using var image = await files.GetAsync(fresh);
        Assert.That(await image.Content.ReadAsByteArrayAsync(), Is.EqualTo(Image));
    }

    [Test]
    public async Task An_image_the_file_server_does_not_have_is_streamed_by_the_service()
    {
        var inDatabase = FirmwareTestKit.EspImage(5000, seed: 8);
        await new FleetData(_db).AddReleaseAsync("esp32", "1.3.0", inDatabase);
        await Task.Delay(TimeSpan.FromSeconds(3)); // the catalog refresh (2 s) sees a release written behind its back
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.Http };

        using var response = await client.GetAsync("/api/firmware/download/1.3.0?device_model=esp32");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await response.Content.ReadAsByteArrayAsync(), Is.EqualTo(inDatabase));
    }

    private async Task<Uri> LinkFromServiceAsync()
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = _server.Http };
        using var redirect = await client.GetAsync(Download);
        Assert.That(redirect.StatusCode, Is.EqualTo(HttpStatusCode.Found));
        return redirect.Headers.Location!;
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>The seed's upload example and its CI workflow, run with the real curl binary against the
/// service on a real Kestrel port, with keys and signatures made by the real openssl as the seed shows.
/// The commands are kept as written (only the server URL, the API key and the signing key path are
/// substituted); curl's status line comes from a .curlrc so the commands need no extra flag.</summary>
[NonParallelizable]
public sealed class FirmwareCurlTests
{
    // Above Kestrel's own 30,000,000-byte default, so a large valid image shows the endpoint lifts it.
    private const long Limit = 32L * 1024 * 1024;

    private string _work = null!;
    private string _server = null!;
    private int _port;
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _work = Directory.CreateTempSubdirectory("paku-curl-").FullName;
        // the seed's "Generate signing key (one-time)" steps, plus an ECDSA P-256 key made the same way
        await BashAsync("""
            openssl genrsa -out firmware_signing_key.pem 2048
            openssl rsa -in firmware_signing_key.pem -pubout -out firmware_public_key.pem
            openssl ecparam -name prime256v1 -genkey -noout -out ec_signing_key.pem
            openssl ec -in ec_signing_key.pem -pubout -out ec_public_key.pem
            """, _work);
        Directory.CreateDirectory(Path.Combine(_work, "curlrc"));
        File.WriteAllText(Path.Combine(_work, "curlrc", ".curlrc"), "write-out = \"\\n%{http_code}\"\n");

        var port = _port = FreePort();
        _server = $"http://127.0.0.1:{port}";
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware", new Dictionary<string, string?>
        {
            ["Ota:ListenAddress"] = "127.0.0.1",
            ["Ota:Http:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Upload:MaxBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Signing:PublicKeys:0:Id"] = "ci-rsa",
            ["Ota:Signing:PublicKeys:0:Path"] = Path.Combine(_work, "firmware_public_key.pem"),
            ["Ota:Signing:PublicKeys:1:Id"] = "ci-ec",
            ["Ota:Signing:PublicKeys:1:Path"] = Path.Combine(_work, "ec_public_key.pem"),
        });
        _factory.UseKestrel(port);
        _factory.StartServer();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        if (_db is not null)
        {
            await _db.DisposeAsync();
        }

        Directory.Delete(_work, recursive: true);
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task The_seed_upload_example_as_written_marks_the_upload_signed_without_a_signature_so_it_is_422()
    {
        WriteImage("path/to/firmware.bin", 200_000, seed: 1);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=1.0.0&device_model=esp32&is_signed=true&release_notes=Initial+release" \
              -H "X-API-Key: your-secret-api-key-here" \
              -F "file=@path/to/firmware.bin"
            """);

        Assert.That(status, Is.EqualTo(422), body);
        Assert.That(body, Does.Contain("is_signed=true, but no signature was sent"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task The_seed_upload_example_with_the_seeds_own_signature_added_is_201_and_stored()
    {
        var image = WriteImage("path/to/firmware.bin", 200_000, seed: 2);
        // the seed's "Sign firmware" step
        await BashAsync("openssl dgst -sha256 -sign firmware_signing_key.pem -out path/to/firmware.sig path/to/firmware.bin", _work);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=1.0.0&device_model=esp32&is_signed=true&release_notes=Initial+release" \
              -H "X-API-Key: your-secret-api-key-here" \
              -F "file=@path/to/firmware.bin" \
              -F "signature=@path/to/firmware.sig"
            """);

        Assert.That(status, Is.EqualTo(201), body);
        var release = JsonDocument.Parse(body).RootElement;
        Assert.That(release.GetProperty("version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(release.GetProperty("release_notes").GetString(), Is.EqualTo("Initial release"));
        Assert.That(release.GetProperty("signature_algorithm").GetString(), Is.EqualTo("rsa-pkcs1v15-sha256"));
        Assert.That(release.GetProperty("signing_key_id").GetString(), Is.EqualTo("ci-rsa"));
        Assert.That(await StoredAsync(), Is.EqualTo(("1.0.0", "esp32", Sha256Hex(image), (long)image.Length, true, "Initial release")));
    }

    [Test]
    public async Task The_ci_workflow_upload_step_as_written_is_422_for_the_missing_signature()
    {
        WriteImage(".pio/build/esp32/firmware.bin", 300_000, seed: 3);

        var (status, body) = await RunCiAsync("""
            curl -X POST \
              "https://ota.paku-iot.example.com/api/admin/firmware/upload?version=${VERSION}&device_model=esp32&is_signed=true" \
              -H "X-API-Key: ${OTA_API_KEY}" \
              -F "file=@.pio/build/esp32/firmware.bin"
            """);

        Assert.That(status, Is.EqualTo(422), body);
        Assert.That(body, Does.Contain("no signature was sent"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task The_ci_workflow_with_its_firmware_sig_uploaded_stores_the_tag_as_a_signed_release()
    {
        var image = WriteImage(".pio/build/esp32/firmware.bin", 300_000, seed: 4);

        var (status, body) = await RunCiAsync("""
            curl -X POST \
              "https://ota.paku-iot.example.com/api/admin/firmware/upload?version=${VERSION}&device_model=esp32&is_signed=true" \
              -H "X-API-Key: ${OTA_API_KEY}" \
              -F "file=@.pio/build/esp32/firmware.bin" \
              -F "signature=@firmware.sig"
            """);

        Assert.That(status, Is.EqualTo(201), body);
        Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("version").GetString(), Is.EqualTo("1.2.0"));
        Assert.That(await StoredAsync(), Is.EqualTo(("1.2.0", "esp32", Sha256Hex(image), (long)image.Length, true, (string?)null)));
        using var reader = _factory.CreateAdminClient(write: false);
        var listed = JsonDocument.Parse(await reader.GetStringAsync("/api/admin/firmware/releases?device_model=esp32")).RootElement;
        Assert.That(listed.GetProperty("releases")[0].GetProperty("signing_key_id").GetString(), Is.EqualTo("ci-rsa"));
    }

    [Test]
    public async Task An_ecdsa_signature_from_openssl_is_verified_as_der()
    {
        WriteImage("fw.bin", 100_000, seed: 5);
        await BashAsync("openssl dgst -sha256 -sign ec_signing_key.pem -out fw.sig fw.bin", _work);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=2.0.0&device_model=esp32-s3&is_signed=true" \
              -H "X-API-Key: your-secret-api-key-here" \
              -F "file=@fw.bin" -F "signature=@fw.sig"
            """);

        Assert.That(status, Is.EqualTo(201), body);
        var release = JsonDocument.Parse(body).RootElement;
        Assert.That(release.GetProperty("signature_algorithm").GetString(), Is.EqualTo("ecdsa-p256-sha256"));
        Assert.That(release.GetProperty("signing_key_id").GetString(), Is.EqualTo("ci-ec"));
    }

    [Test]
    public async Task An_openssl_signature_in_base64_is_accepted()
    {
        WriteImage("fw.bin", 100_000, seed: 6);
        await BashAsync("openssl dgst -sha256 -sign firmware_signing_key.pem fw.bin | openssl base64 > fw.sig.b64", _work);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=2.0.1&device_model=esp32" \
              -H "X-API-Key: your-secret-api-key-here" \
              -F "file=@fw.bin" -F "signature=<fw.sig.b64"
            """);

        Assert.That(status, Is.EqualTo(201), body);
        Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("signing_key_id").GetString(), Is.EqualTo("ci-rsa"));
    }

    [Test]
    public async Task A_tampered_image_with_the_openssl_signature_of_the_original_is_422()
    {
        WriteImage("fw.bin", 100_000, seed: 7);
        await BashAsync("openssl dgst -sha256 -sign firmware_signing_key.pem -out fw.sig fw.bin", _work);
        WriteImage("fw.bin", 100_000, seed: 8);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=2.0.2&device_model=esp32&is_signed=true" \
              -H "X-API-Key: your-secret-api-key-here" \
              -F "file=@fw.bin" -F "signature=@fw.sig"
            """);

        Assert.That(status, Is.EqualTo(422), body);
        Assert.That(body, Does.Contain("does not verify with any configured key (ci-rsa, ci-ec)"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task An_image_larger_than_kestrels_default_body_limit_but_within_the_upload_limit_is_accepted()
    {
        var image = WriteImage("big.bin", 31 * 1024 * 1024, seed: 9);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=3.0.0&device_model=esp32" \
              -H "X-API-Key: your-secret-api-key-here" -F "file=@big.bin"
            """);

        Assert.That(status, Is.EqualTo(201), body);
        Assert.That(JsonDocument.Parse(body).RootElement.GetProperty("size_bytes").GetInt64(), Is.EqualTo(image.Length));
    }

    [TestCase(Limit + 1)]
    [TestCase(Limit + 4 * 1024 * 1024)]
    public async Task An_oversized_image_is_answered_by_the_service_with_a_problem_naming_the_limit(long size)
    {
        WriteImage("huge.bin", (int)size, seed: 10);

        var (status, body) = await CurlAsync("""
            curl -X POST "http://localhost:8080/api/admin/firmware/upload?version=3.0.1&device_model=esp32" \
              -H "X-API-Key: your-secret-api-key-here" -F "file=@huge.bin"
            """);

        Assert.That(status, Is.EqualTo(400), body);
        var problem = JsonDocument.Parse(body).RootElement;
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain($"{Limit} bytes").And.Contain("Ota:Upload:MaxBytes"));
        Assert.That(problem.GetProperty("errors").TryGetProperty("file", out _), Is.True);
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task An_upload_cut_off_midway_leaves_nothing_behind()
    {
        var head = Encoding.ASCII.GetBytes("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n");
        byte[] sent = [.. head, .. EspImage(200_000)];
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, _port);
            var stream = tcp.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                "POST /api/admin/firmware/upload?version=5.0.0&device_model=esp32 HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                $"X-API-Key: {ApiFactory.WriteKey}\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n" +
                $"Content-Length: {sent.Length + 1_000_000}\r\n\r\n"));
            await stream.WriteAsync(sent);
            await stream.FlushAsync();
            await Task.Delay(300);
            tcp.Client.LingerState = new LingerOption(true, 0); // reset, as a dropped link would
        }

        var outcome = await WaitForAuditAsync("firmware.upload");

        Assert.That(outcome, Does.StartWith("refused"));
        await AssertNothingStoredAsync(_db);
    }

    private async Task<string?> WaitForAuditAsync(string action)
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        for (var i = 0; i < 100; i++)
        {
            if (await connection.QuerySingleOrDefaultAsync<string>("select outcome from audit_log where action = @action", new { action }) is { } outcome)
            {
                return outcome;
            }

            await Task.Delay(100);
        }

        return null;
    }

    private byte[] WriteImage(string relativePath, int size, int seed)
    {
        var image = EspImage(size, seed);
        var path = Path.Combine(_work, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, image);
        return image;
    }

    /// <summary>Runs a curl command from the seed with the server URL and the API key substituted.</summary>
    private Task<(int Status, string Body)> CurlAsync(string command) =>
        RunCurlAsync(command.Replace("http://localhost:8080", _server, StringComparison.Ordinal)
            .Replace("your-secret-api-key-here", ApiFactory.WriteKey, StringComparison.Ordinal), environment: "");

    /// <summary>The CI workflow's "Sign firmware" step and then <paramref name="uploadStep"/>, with the
    /// workflow's environment (the tag v1.2.0 as VERSION, the API key, the signing key as the secret).</summary>
    private async Task<(int Status, string Body)> RunCiAsync(string uploadStep)
    {
        const string signStep = """
            openssl dgst -sha256 -sign ${{ secrets.SIGNING_KEY }} \
              -out firmware.sig .pio/build/esp32/firmware.bin
            """;
        await BashAsync(signStep.Replace("${{ secrets.SIGNING_KEY }}", "firmware_signing_key.pem", StringComparison.Ordinal), _work);
        var environment = $"export OTA_API_KEY='{ApiFactory.WriteKey}' VERSION='v1.2.0'\n";
        return await RunCurlAsync(uploadStep.Replace("https://ota.paku-iot.example.com", _server, StringComparison.Ordinal), environment);
    }

    private async Task<(int Status, string Body)> RunCurlAsync(string command, string environment)
    {
        var output = await BashAsync($"{environment}export CURL_HOME='{Path.Combine(_work, "curlrc")}'\n{command}", _work);
        var split = output.LastIndexOf('\n');
        return (int.Parse(output[(split + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture), output[..split]);
    }

    private async Task<(string, string, string, long, bool, string?)> StoredAsync()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<(string, string, string, long, bool, string?)>("""
            select r.version, r.device_model, b.sha256, b.size_bytes, r.is_signed, r.release_notes
            from firmware_releases r join firmware_binaries b on b.sha256 = r.checksum_sha256
            """);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

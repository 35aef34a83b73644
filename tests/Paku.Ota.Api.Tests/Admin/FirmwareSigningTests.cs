using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>Signed uploads against two configured keys (RSA-2048 "rsa-2026" and ECDSA P-256 "ec-2026").</summary>
public sealed class FirmwareSigningTests
{
    private TestSigningKeys _keys = null!;
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _keys = new TestSigningKeys();
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware", _keys.Settings());
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
        _keys.Dispose();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _factory.RefreshCatalog();
    }

    [Test]
    public async Task An_rsa_signature_marks_the_release_signed_by_the_rsa_key()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage();
        var signature = SignRsa(_keys.Rsa, image);

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32&is_signed=true", image, signature);
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        Assert.That(body.GetProperty("is_signed").GetBoolean(), Is.True);
        Assert.That(body.GetProperty("signature_algorithm").GetString(), Is.EqualTo("rsa-pkcs1v15-sha256"));
        Assert.That(body.GetProperty("signing_key_id").GetString(), Is.EqualTo("rsa-2026"));
        Assert.That(await StoredSignatureAsync("1.0.0"), Is.EqualTo((signature, "rsa-pkcs1v15-sha256", "rsa-2026")));
    }

    [Test]
    public async Task An_ecdsa_signature_in_der_marks_the_release_signed_by_the_ec_key()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage();
        var signature = SignEcdsa(_keys.Ec, image);

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32&is_signed=true", image, signature);
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        Assert.That(body.GetProperty("signature_algorithm").GetString(), Is.EqualTo("ecdsa-p256-sha256"));
        Assert.That(body.GetProperty("signing_key_id").GetString(), Is.EqualTo("ec-2026"));
        Assert.That(await StoredSignatureAsync("1.0.0"), Is.EqualTo((signature, "ecdsa-p256-sha256", "ec-2026")));
    }

    [TestCase(false)]
    [TestCase(true)]
    public async Task A_base64_signature_is_accepted_and_stored_as_bytes(bool withLineBreaks)
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage();
        var signature = SignRsa(_keys.Rsa, image);
        var text = Convert.ToBase64String(signature, withLineBreaks ? Base64FormattingOptions.InsertLineBreaks : Base64FormattingOptions.None) + "\n";

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32&is_signed=true", image, Encoding.ASCII.GetBytes(text));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        Assert.That((await StoredSignatureAsync("1.0.0")).Signature, Is.EqualTo(signature));
    }

    [TestCase("")]
    [TestCase("&is_signed=false")]
    public async Task A_valid_signature_sent_without_is_signed_true_is_verified_and_marks_the_release_signed(string flag)
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage();

        var response = await client.UploadAsync($"version=1.0.0&device_model=esp32{flag}", image, SignEcdsa(_keys.Ec, image));
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(body.GetProperty("is_signed").GetBoolean(), Is.True);
        Assert.That(body.GetProperty("signing_key_id").GetString(), Is.EqualTo("ec-2026"));
    }

    [Test]
    public async Task An_invalid_signature_sent_without_is_signed_is_422_too()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage(seed: 2), SignRsa(_keys.Rsa, EspImage(seed: 1)));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("does not verify with any configured key"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task Without_require_signed_an_unsigned_upload_is_accepted_as_unsigned()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage());
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(body.GetProperty("is_signed").GetBoolean(), Is.False);
    }

    [Test]
    public async Task A_device_is_offered_the_signature_and_the_algorithm_name_it_expects()
    {
        using var admin = _factory.CreateAdminClient();
        var image = EspImage();
        var signature = SignEcdsa(_keys.Ec, image);
        Assert.That((await admin.UploadAsync("version=1.1.0&device_model=esp32&is_signed=true", image, signature)).StatusCode, Is.EqualTo(HttpStatusCode.Created));
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                insert into rollouts (name, release_id, firmware_version, device_model, target_type)
                select 'all-esp32', id, version, device_model, 'all' from firmware_releases
                """);
        }

        _factory.RefreshCatalog();

        using var device = _factory.CreateClient();
        var check = await device.GetFromJsonAsync<JsonElement>("/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0");

        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(check.GetProperty("signature_algorithm").GetString(), Is.EqualTo("ecdsa-p256-sha256"));
        Assert.That(Convert.FromBase64String(check.GetProperty("signature").GetString()!), Is.EqualTo(signature));
        Assert.That(check.GetProperty("checksum_sha256").GetString(), Is.EqualTo(Sha256Hex(image)));
    }

    private async Task<(byte[] Signature, string Algorithm, string KeyId)> StoredSignatureAsync(string version)
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(byte[], string, string)>(
            "select signature, signature_algorithm, signing_key_id from firmware_releases where version = @version", new { version });
        return row;
    }
}

/// <summary><c>Ota:Signing:RequireSigned=true</c>: nothing unsigned gets in.</summary>
public sealed class FirmwareRequireSignedTests
{
    private TestSigningKeys _keys = null!;
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _keys = new TestSigningKeys();
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware", _keys.Settings(requireSigned: true));
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
        _keys.Dispose();
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [TestCase("")]
    [TestCase("&is_signed=false")]
    public async Task An_unsigned_upload_is_422_saying_signatures_are_required(string flag)
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync($"version=1.0.0&device_model=esp32{flag}", EspImage());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("accepts signed firmware only (Ota:Signing:RequireSigned)"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task A_signed_upload_is_accepted()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage();

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32", image, SignRsa(_keys.Rsa, image));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }
}

/// <summary>A signing setting that cannot work stops the service as it starts, saying why.</summary>
public sealed class FirmwareSigningStartupTests
{
    private TestSigningKeys _keys = null!;
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _keys = new TestSigningKeys();
        _db = await TestDatabase.CreateAsync("paku_test_firmware");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _db.DisposeAsync();
        _keys.Dispose();
    }

    [Test]
    public async Task A_key_path_that_does_not_exist_stops_the_start_naming_the_setting_and_the_path()
    {
        var missing = Path.Combine(_keys.Directory, "no-such-key.pem");

        var message = await StartFailureAsync(new() { ["Ota:Signing:PublicKeys:0:Id"] = "k1", ["Ota:Signing:PublicKeys:0:Path"] = missing });

        Assert.That(message, Does.Contain("Ota:Signing:PublicKeys:0:Path").And.Contain(missing).And.Contain("cannot be read"));
    }

    [Test]
    public async Task A_private_key_instead_of_the_public_one_stops_the_start()
    {
        var path = Path.Combine(_keys.Directory, "private.pem");
        File.WriteAllText(path, _keys.Rsa.ExportPkcs8PrivateKeyPem());

        var message = await StartFailureAsync(new() { ["Ota:Signing:PublicKeys:0:Id"] = "k1", ["Ota:Signing:PublicKeys:0:Path"] = path });

        Assert.That(message, Does.Contain("is a private key"));
    }

    [Test]
    public async Task A_file_that_is_not_a_key_stops_the_start()
    {
        var path = Path.Combine(_keys.Directory, "garbage.pem");
        File.WriteAllText(path, "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n");

        var message = await StartFailureAsync(new() { ["Ota:Signing:PublicKeys:0:Id"] = "k1", ["Ota:Signing:PublicKeys:0:Path"] = path });

        Assert.That(message, Does.Contain("Ota:Signing:PublicKeys:0:Path").And.Contain("is not a usable public key"));
    }

    [Test]
    public async Task Require_signed_without_any_key_stops_the_start()
    {
        var message = await StartFailureAsync(new() { ["Ota:Signing:RequireSigned"] = "true" });

        Assert.That(message, Does.Contain("Ota:Signing:RequireSigned is true, but no key is configured"));
    }

    [Test]
    public async Task An_upload_limit_of_zero_stops_the_start()
    {
        var message = await StartFailureAsync(new() { ["Ota:Upload:MaxBytes"] = "0" });

        Assert.That(message, Does.Contain("Ota:Upload:MaxBytes is 0"));
    }

    /// <summary>Starts the service as its entry point does (composition root, then start) and returns why it
    /// refused. Not through WebApplicationFactory: when a start fails fast, the host disposes itself on the
    /// entry point's thread, and under load that can happen before the factory looks at the host's services,
    /// which then fails with "Cannot access a disposed object … IServiceProvider" instead of the reason.</summary>
    private async Task<string> StartFailureAsync(Dictionary<string, string?> settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Ota"] = _db.ConnectionString,
            ["Ota:Http:Port"] = "0", // nothing is meant to listen; if it did, on no fixed port
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var args = new List<string> { "--environment", "Testing" };
        args.AddRange(all.Where(s => s.Value is not null).Select(s => $"--{s.Key}={s.Value}"));
        var failure = await Assert.CatchAsync(async () =>
        {
            await using var app = ServiceHost.Build([.. args]);
            await app.StartAsync();
            await app.StopAsync();
        });
        var messages = new List<string>();
        for (var e = failure; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }

        return string.Join(" | ", messages);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>Uploads without signing keys configured: what is stored, what is answered, who may do it.</summary>
public sealed class FirmwareUploadTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _factory.RefreshCatalog();
    }

    [Test]
    public async Task Upload_stores_the_image_and_answers_201_with_the_release_and_its_location()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage(10_000);

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32&release_notes=Initial+release&changelog=first&min_version=0.9.0", image);
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), body.ToString());
        Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo("/api/admin/firmware/releases/esp32/1.0.0"));
        Assert.That(body.GetProperty("version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(body.GetProperty("device_model").GetString(), Is.EqualTo("esp32"));
        Assert.That(body.GetProperty("checksum_sha256").GetString(), Is.EqualTo(Sha256Hex(image)));
        Assert.That(body.GetProperty("size_bytes").GetInt64(), Is.EqualTo(10_000));
        Assert.That(body.GetProperty("is_signed").GetBoolean(), Is.False);
        Assert.That(body.GetProperty("signature_algorithm").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(body.GetProperty("signing_key_id").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(body.GetProperty("created_at").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(body.GetProperty("min_version").GetString(), Is.EqualTo("0.9.0"));
        Assert.That(body.GetProperty("release_notes").GetString(), Is.EqualTo("Initial release"));
        Assert.That(body.GetProperty("changelog").GetString(), Is.EqualTo("first"));
        Assert.That(body.GetProperty("created_by").GetString(), Is.EqualTo("test-writer"));

        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var stored = await connection.QuerySingleAsync<byte[]>("select content from firmware_binaries where sha256 = @sha", new { sha = Sha256Hex(image) });
        Assert.That(stored, Is.EqualTo(image));
    }

    [Test]
    public async Task The_uploaded_image_is_served_to_devices_at_once()
    {
        using var admin = _factory.CreateAdminClient();
        var image = EspImage(5000, seed: 7);
        Assert.That((await admin.UploadAsync("version=2.1.0&device_model=esp32", image)).StatusCode, Is.EqualTo(HttpStatusCode.Created));

        using var device = _factory.CreateClient();
        var download = await device.GetAsync("/api/firmware/download/2.1.0?device_model=esp32");

        Assert.That(download.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(await download.Content.ReadAsByteArrayAsync(), Is.EqualTo(image));
        Assert.That(download.Headers.GetValues("X-Checksum-SHA256").Single(), Is.EqualTo(Sha256Hex(image)));
    }

    [Test]
    public async Task A_version_from_a_git_tag_is_normalised()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync("version=v1.2.0&device_model=esp32", EspImage());
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(body.GetProperty("version").GetString(), Is.EqualTo("1.2.0"));
        Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo("/api/admin/firmware/releases/esp32/1.2.0"));
    }

    [TestCase("1.2.0", "1.2.0")]
    [TestCase("1.2.0", "v1.2.0")]
    [TestCase("1.2.0+build.1", "1.2.0+build.2")]
    [TestCase("2.0.0-rc.1", "V2.0.0-rc.1")]
    public async Task The_same_version_of_the_same_model_twice_is_409_and_the_first_stays(string first, string second)
    {
        using var client = _factory.CreateAdminClient();
        var original = EspImage(seed: 1);
        Assert.That((await client.UploadAsync($"version={Uri.EscapeDataString(first)}&device_model=esp32", original)).StatusCode, Is.EqualTo(HttpStatusCode.Created));

        var again = await client.UploadAsync($"version={Uri.EscapeDataString(second)}&device_model=esp32", EspImage(seed: 2));

        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(await again.ProblemTextAsync(), Does.Contain($"Release {first} for device model 'esp32' already exists"));
        Assert.That(await CountAsync(_db), Is.EqualTo((1L, 1L)), "the second image must not be left behind");
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        Assert.That(await connection.QuerySingleAsync<string>("select checksum_sha256 from firmware_releases"), Is.EqualTo(Sha256Hex(original)));
    }

    [Test]
    public async Task The_same_version_for_another_model_is_another_release()
    {
        using var client = _factory.CreateAdminClient();

        var esp32 = await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage(seed: 1));
        var s3 = await client.UploadAsync("version=1.0.0&device_model=esp32-s3", EspImage(seed: 2));

        Assert.That((esp32.StatusCode, s3.StatusCode), Is.EqualTo((HttpStatusCode.Created, HttpStatusCode.Created)));
        Assert.That(await CountAsync(_db), Is.EqualTo((2L, 2L)));
    }

    [Test]
    public async Task Identical_images_are_stored_once()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage(seed: 3);

        var a = await client.UploadAsync("version=1.0.0&device_model=esp32", image);
        var b = await client.UploadAsync("version=1.0.1&device_model=esp32", image);
        var c = await client.UploadAsync("version=1.0.0&device_model=esp32-c3", image);

        Assert.That(new[] { a.StatusCode, b.StatusCode, c.StatusCode }, Is.All.EqualTo(HttpStatusCode.Created));
        Assert.That(await CountAsync(_db), Is.EqualTo((1L, 3L)));
    }

    [Test]
    public async Task A_pre_release_and_build_metadata_are_kept_as_sent()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync($"version={Uri.EscapeDataString("v3.0.0-beta.2+sha.5114f85")}&device_model=esp32", EspImage());
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(body.GetProperty("version").GetString(), Is.EqualTo("3.0.0-beta.2+sha.5114f85"));
        Assert.That(response.Headers.Location?.OriginalString, Is.EqualTo("/api/admin/firmware/releases/esp32/3.0.0-beta.2%2Bsha.5114f85"));
        Assert.That((await client.GetAsync(response.Headers.Location)).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task An_image_that_is_not_an_esp_image_is_accepted_when_the_check_is_skipped()
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync("version=1.0.0&device_model=nrf52&skip_image_check=true", "not an ESP image"u8.ToArray());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
    }

    [TestCase("true")]
    [TestCase("1")]
    [TestCase("yes")]
    public async Task Is_signed_true_without_a_signature_is_422_and_stores_nothing(string flag)
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.UploadAsync($"version=1.0.0&device_model=esp32&is_signed={flag}", EspImage());

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("no signature was sent"));
        Assert.That(await response.ProblemFieldsAsync(), Is.EquivalentTo(new[] { "signature" }));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task A_signature_without_any_configured_key_is_422_saying_no_key_is_configured()
    {
        using var client = _factory.CreateAdminClient();
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var image = EspImage();

        var response = await client.UploadAsync("version=1.0.0&device_model=esp32&is_signed=true", image, SignRsa(key, image));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("no signing key is configured"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task An_image_of_exactly_the_default_limit_of_16_MiB_is_accepted_and_one_byte_more_is_refused()
    {
        using var client = _factory.CreateAdminClient();

        var largest = await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage(16 * 1024 * 1024));
        var tooLarge = await client.UploadAsync("version=1.0.1&device_model=esp32", EspImage(16 * 1024 * 1024 + 1));

        Assert.That(largest.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That(tooLarge.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await tooLarge.ProblemTextAsync(), Does.Contain("larger than the upload limit of 16777216 bytes (16 MiB)"));
        Assert.That(await CountAsync(_db), Is.EqualTo((1L, 1L)));
    }

    [Test]
    public async Task Without_an_api_key_an_upload_is_401_and_with_the_read_key_403()
    {
        using var anonymous = _factory.CreateClient();
        using var reader = _factory.CreateAdminClient(write: false);

        var noKey = await anonymous.UploadAsync("version=1.0.0&device_model=esp32", EspImage());
        var readKey = await reader.UploadAsync("version=1.0.0&device_model=esp32", EspImage());

        Assert.That(noKey.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await noKey.ProblemTextAsync(), Does.Contain("X-API-Key"));
        Assert.That(readKey.StatusCode, Is.EqualTo(HttpStatusCode.Forbidden));
        Assert.That(await readKey.ProblemTextAsync(), Does.Contain("write scope"));
        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task Uploads_are_audited_whether_they_succeed_or_are_refused()
    {
        using var client = _factory.CreateAdminClient();
        await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage());
        await client.UploadAsync("version=1.0.0&device_model=esp32", EspImage(seed: 9));

        using var reader = _factory.CreateAdminClient(write: false);
        var audit = await (await reader.GetAsync("/api/admin/audit?action=firmware.upload")).JsonAsync();
        var entries = audit.GetProperty("entries").EnumerateArray().ToList();

        Assert.That(entries.Select(e => e.GetProperty("outcome").GetString()), Is.EqualTo(new[] { "refused (409)", "succeeded" }));
        Assert.That(entries.Select(e => e.GetProperty("actor").GetString()), Is.All.EqualTo("test-writer"));
        Assert.That(entries.Select(e => e.GetProperty("target").GetString()), Is.All.EqualTo("1.0.0"));
        Assert.That(entries[1].GetProperty("details").GetProperty("status").GetInt32(), Is.EqualTo(201));
    }

    [Test]
    public async Task Twenty_parallel_uploads_of_one_version_make_one_release_and_nineteen_409s()
    {
        var clients = Enumerable.Range(0, 20).Select(_ => _factory.CreateAdminClient()).ToList();
        try
        {
            var responses = await Task.WhenAll(clients.Select((client, i) =>
                client.UploadAsync("version=4.0.0&device_model=esp32", EspImage(64 * 1024, seed: i))));

            var statuses = responses.Select(r => r.StatusCode).ToList();
            Assert.That(statuses.Count(s => s == HttpStatusCode.Created), Is.EqualTo(1), string.Join(", ", statuses));
            Assert.That(statuses.Count(s => s == HttpStatusCode.Conflict), Is.EqualTo(19), string.Join(", ", statuses));
            Assert.That(await CountAsync(_db), Is.EqualTo((1L, 1L)));
            var winner = await responses.Single(r => r.StatusCode == HttpStatusCode.Created).JsonAsync();
            await using var connection = await _db.DataSource.OpenConnectionAsync();
            Assert.That(await connection.QuerySingleAsync<string>("select sha256 from firmware_binaries"),
                Is.EqualTo(winner.GetProperty("checksum_sha256").GetString()));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Test]
    public async Task Twenty_parallel_uploads_of_the_same_image_as_one_version_store_it_once()
    {
        var image = EspImage(64 * 1024, seed: 42);
        var clients = Enumerable.Range(0, 20).Select(_ => _factory.CreateAdminClient()).ToList();
        try
        {
            var responses = await Task.WhenAll(clients.Select(client => client.UploadAsync("version=4.0.0&device_model=esp32", image)));

            Assert.That(responses.Count(r => r.StatusCode == HttpStatusCode.Created), Is.EqualTo(1));
            Assert.That(responses.Count(r => r.StatusCode == HttpStatusCode.Conflict), Is.EqualTo(19));
            Assert.That(await CountAsync(_db), Is.EqualTo((1L, 1L)));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Test]
    public async Task An_uploaded_release_is_listed_for_its_model()
    {
        using var client = _factory.CreateAdminClient();
        var form = Form(EspImage());

        var response = await client.PostAsync("/api/admin/firmware/upload?version=1.0.0&device_model=esp32&release_notes=Initial+release", form);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created));
        Assert.That((await response.JsonAsync()).GetProperty("release_notes").GetString(), Is.EqualTo("Initial release"));
        var listed = await client.GetFromJsonAsync<JsonElement>("/api/admin/firmware/releases?device_model=esp32");
        Assert.That(listed.GetProperty("releases").GetArrayLength(), Is.EqualTo(1));
    }
}

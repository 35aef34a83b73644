using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>Listing, looking up and withdrawing releases.</summary>
public sealed class FirmwareReleasesTests
{
    private const string Releases = "/api/admin/firmware/releases";

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
    public async Task Releases_of_one_model_are_listed_highest_version_first_by_semver_precedence()
    {
        await UploadAllAsync("esp32", "1.2.0", "2.0.0-rc.1", "1.10.0", "2.0.0", "1.0.0", "2.0.0-alpha", "2.0.0-rc.2", "2.0.0-alpha.1");
        await UploadAllAsync("esp8266", "9.0.0");
        using var reader = _factory.CreateAdminClient(write: false);

        var body = await reader.GetFromJsonAsync<JsonElement>($"{Releases}?device_model=esp32");

        Assert.That(Versions(body), Is.EqualTo(new[] { "2.0.0", "2.0.0-rc.2", "2.0.0-rc.1", "2.0.0-alpha.1", "2.0.0-alpha", "1.10.0", "1.2.0", "1.0.0" }));
    }

    [Test]
    public async Task Releases_of_all_models_are_listed_newest_upload_first()
    {
        await UploadAllAsync("esp32", "2.0.0");
        await UploadAllAsync("esp8266", "1.0.0");
        await UploadAllAsync("esp32", "1.5.0");
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("update firmware_releases set created_at = now() - interval '1 hour' where version = '2.0.0'");
        }

        using var reader = _factory.CreateAdminClient(write: false);
        var body = await reader.GetFromJsonAsync<JsonElement>(Releases);

        Assert.That(body.GetProperty("releases").EnumerateArray().Select(r => $"{r.GetProperty("device_model").GetString()} {r.GetProperty("version").GetString()}"),
            Is.EqualTo(new[] { "esp32 1.5.0", "esp8266 1.0.0", "esp32 2.0.0" }));
    }

    [Test]
    public async Task The_list_holds_100_releases_by_default_and_up_to_the_limit_asked()
    {
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                insert into firmware_binaries (sha256, size_bytes, content) values (repeat('a', 64), 1, '\xe9');
                insert into firmware_releases (version, device_model, checksum_sha256, size_bytes)
                select '1.0.' || n, 'esp32', repeat('a', 64), 1 from generate_series(1, 120) n;
                """);
        }

        using var reader = _factory.CreateAdminClient(write: false);

        Assert.That((await reader.GetFromJsonAsync<JsonElement>(Releases)).GetProperty("releases").GetArrayLength(), Is.EqualTo(100));
        Assert.That((await reader.GetFromJsonAsync<JsonElement>($"{Releases}?limit=1000")).GetProperty("releases").GetArrayLength(), Is.EqualTo(120));
        var three = await reader.GetFromJsonAsync<JsonElement>($"{Releases}?device_model=esp32&limit=3");
        Assert.That(Versions(three), Is.EqualTo(new[] { "1.0.120", "1.0.119", "1.0.118" }));
    }

    [Test]
    public async Task Listing_and_looking_up_never_read_the_images()
    {
        await UploadAllAsync("esp32", "1.0.0");
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("lock table firmware_binaries in access exclusive mode", transaction: transaction);
        using var reader = _factory.CreateAdminClient(write: false);
        reader.Timeout = TimeSpan.FromSeconds(10);

        var list = await reader.GetAsync($"{Releases}?device_model=esp32");
        var all = await reader.GetAsync(Releases);
        var one = await reader.GetAsync($"{Releases}/esp32/1.0.0");

        Assert.That(new[] { list.StatusCode, all.StatusCode, one.StatusCode }, Is.All.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task A_release_is_looked_up_by_model_and_version_with_the_read_key()
    {
        using var admin = _factory.CreateAdminClient();
        var image = EspImage();
        await admin.UploadAsync("version=1.2.0%2Bbuild.7&device_model=esp32&release_notes=notes", image);
        using var reader = _factory.CreateAdminClient(write: false);

        var exact = await reader.GetAsync($"{Releases}/esp32/1.2.0%2Bbuild.7");
        var tagged = await reader.GetAsync($"{Releases}/esp32/v1.2.0");
        var body = await exact.JsonAsync();

        Assert.That((exact.StatusCode, tagged.StatusCode), Is.EqualTo((HttpStatusCode.OK, HttpStatusCode.OK)));
        Assert.That(body.GetProperty("version").GetString(), Is.EqualTo("1.2.0+build.7"));
        Assert.That(body.GetProperty("checksum_sha256").GetString(), Is.EqualTo(Sha256Hex(image)));
        Assert.That(body.GetProperty("release_notes").GetString(), Is.EqualTo("notes"));
        Assert.That(body.GetProperty("withdrawn_at").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That((await tagged.JsonAsync()).GetProperty("id").GetInt64(), Is.EqualTo(body.GetProperty("id").GetInt64()));
    }

    [Test]
    public async Task An_unknown_release_is_404_saying_which()
    {
        await UploadAllAsync("esp32", "1.0.0");
        using var reader = _factory.CreateAdminClient(write: false);

        var otherVersion = await reader.GetAsync($"{Releases}/esp32/9.9.9");
        var otherModel = await reader.GetAsync($"{Releases}/esp8266/1.0.0");

        Assert.That((otherVersion.StatusCode, otherModel.StatusCode), Is.EqualTo((HttpStatusCode.NotFound, HttpStatusCode.NotFound)));
        Assert.That(await otherVersion.ProblemTextAsync(), Does.Contain("There is no release 9.9.9 for device model 'esp32'."));
        Assert.That(await otherModel.ProblemTextAsync(), Does.Contain("There is no release 1.0.0 for device model 'esp8266'."));
    }

    [TestCase("?limit=0", "limit", "from 1 to 1000, not '0'")]
    [TestCase("?limit=1001", "limit", "from 1 to 1000, not '1001'")]
    [TestCase("?limit=-5", "limit", "not '-5'")]
    [TestCase("?limit=ten", "limit", "a whole number")]
    [TestCase("?limit=1.5", "limit", "a whole number")]
    [TestCase("?limit=99999999999999999999", "limit", "a whole number")]
    [TestCase("?device_model=esp%2032", "device_model", "contains U+0020")]
    [TestCase("/esp32/latest", "version", "'latest' is not a valid version")]
    [TestCase("/esp32/1.0", "version", "2 numeric parts")]
    [TestCase("/esp%2032/1.0.0", "device_model", "contains U+0020")]
    public async Task Bad_read_parameters_are_400_naming_the_field(string pathAndQuery, string field, string reason)
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.GetAsync(Releases + pathAndQuery);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.ProblemTextAsync(), Does.Contain(reason));
        Assert.That(await response.ProblemFieldsAsync(), Is.EquivalentTo(new[] { field }));
    }

    [Test]
    public async Task Reading_releases_needs_an_api_key()
    {
        using var anonymous = _factory.CreateClient();

        Assert.That((await anonymous.GetAsync(Releases)).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That((await anonymous.GetAsync($"{Releases}/esp32/1.0.0")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    [Test]
    public async Task Withdrawing_a_release_stops_serving_it_and_pauses_the_active_rollouts_that_offer_it()
    {
        await UploadAllAsync("esp32", "1.1.0", "1.2.0");
        await AddRolloutAsync("canary-120", "1.2.0", active: true);
        await AddRolloutAsync("all-120", "1.2.0", active: true);
        await AddRolloutAsync("old-paused-120", "1.2.0", active: false, pauseReason: "paused by hand");
        await AddRolloutAsync("all-110", "1.1.0", active: true);
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = "boot loop on rev1 boards" });
        var body = await response.JsonAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body.ToString());
        Assert.That(body.GetProperty("release").GetProperty("withdrawn_reason").GetString(), Is.EqualTo("boot loop on rev1 boards"));
        Assert.That(body.GetProperty("release").GetProperty("withdrawn_at").GetDateTimeOffset(), Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
        Assert.That(body.GetProperty("paused_rollouts").EnumerateArray().Select(e => e.GetString()), Is.EqualTo(new[] { "all-120", "canary-120" }));
        Assert.That(await RolloutsAsync(), Is.EqualTo(new[]
        {
            ("all-110", true, (string?)null),
            ("all-120", false, (string?)"release 1.2.0 withdrawn: boot loop on rev1 boards"),
            ("canary-120", false, (string?)"release 1.2.0 withdrawn: boot loop on rev1 boards"),
            ("old-paused-120", false, (string?)"paused by hand"),
        }));

        using var device = _factory.CreateClient();
        var download = await device.GetAsync("/api/firmware/download/1.2.0?device_model=esp32");
        Assert.That(download.StatusCode, Is.EqualTo(HttpStatusCode.Gone));
        var check = await device.GetFromJsonAsync<JsonElement>("/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0");
        Assert.That(check.GetProperty("latest_version").GetString(), Is.EqualTo("1.1.0"));

        using var reader = _factory.CreateAdminClient(write: false);
        var listed = await reader.GetFromJsonAsync<JsonElement>($"{Releases}/esp32/1.2.0");
        Assert.That(listed.GetProperty("withdrawn_reason").GetString(), Is.EqualTo("boot loop on rev1 boards"));
    }

    [Test]
    public async Task A_withdrawal_without_a_body_pauses_with_a_reason_that_names_the_release()
    {
        await UploadAllAsync("esp32", "1.2.0");
        await AddRolloutAsync("all-120", "1.2.0", active: true);
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsync($"{Releases}/esp32/v1.2.0/withdraw", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That((await response.JsonAsync()).GetProperty("release").GetProperty("withdrawn_reason").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(await RolloutsAsync(), Is.EqualTo(new[] { ("all-120", false, (string?)"release 1.2.0 withdrawn") }));
    }

    [Test]
    public async Task Withdrawing_twice_is_409_and_keeps_the_first_reason()
    {
        await UploadAllAsync("esp32", "1.2.0");
        using var admin = _factory.CreateAdminClient();
        await admin.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = "first" });

        var again = await admin.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = "second" });

        Assert.That(again.StatusCode, Is.EqualTo(HttpStatusCode.Conflict));
        Assert.That(await again.ProblemTextAsync(), Does.Contain("Release 1.2.0 for device model 'esp32' was already withdrawn").And.Contain("(first)"));
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        Assert.That(await connection.QuerySingleAsync<string>("select withdrawn_reason from firmware_releases"), Is.EqualTo("first"));
    }

    [Test]
    public async Task Ten_parallel_withdrawals_withdraw_once()
    {
        await UploadAllAsync("esp32", "1.2.0");
        var clients = Enumerable.Range(0, 10).Select(_ => _factory.CreateAdminClient()).ToList();
        try
        {
            var responses = await Task.WhenAll(clients.Select((c, i) => c.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = $"r{i}" })));

            Assert.That(responses.Count(r => r.StatusCode == HttpStatusCode.OK), Is.EqualTo(1));
            Assert.That(responses.Count(r => r.StatusCode == HttpStatusCode.Conflict), Is.EqualTo(9));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [Test]
    public async Task Withdrawing_an_unknown_release_is_404()
    {
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsync($"{Releases}/esp32/1.2.0/withdraw", null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("There is no release 1.2.0 for device model 'esp32'."));
    }

    [Test]
    public async Task Withdrawing_needs_the_write_key_and_every_attempt_is_audited()
    {
        await UploadAllAsync("esp32", "1.2.0");
        using var anonymous = _factory.CreateClient();
        using var reader = _factory.CreateAdminClient(write: false);
        using var admin = _factory.CreateAdminClient();

        var noKey = await anonymous.PostAsync($"{Releases}/esp32/1.2.0/withdraw", null);
        var readKey = await reader.PostAsync($"{Releases}/esp32/1.2.0/withdraw", null);
        Assert.That((noKey.StatusCode, readKey.StatusCode), Is.EqualTo((HttpStatusCode.Unauthorized, HttpStatusCode.Forbidden)));
        Assert.That(await WithdrawnAsync(), Is.False);

        await admin.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = "bad" });
        var audit = await reader.GetFromJsonAsync<JsonElement>("/api/admin/audit?action=firmware.withdraw");
        var entries = audit.GetProperty("entries").EnumerateArray()
            .Select(e => (Actor: e.GetProperty("actor").GetString(), Outcome: e.GetProperty("outcome").GetString())).ToList();
        Assert.That(entries, Is.EqualTo(new[]
        {
            ("test-writer", "succeeded"),
            ("test-reader", "refused (403)"),
            ("unauthenticated", "refused (401)"),
        }), "newest first; a refused attempt names its key when it had one");
        var entry = audit.GetProperty("entries")[0];
        Assert.That(entry.GetProperty("details").GetProperty("path").GetString(), Is.EqualTo("/api/admin/firmware/releases/esp32/1.2.0/withdraw"));
        Assert.That(audit.GetProperty("entries")[1].GetProperty("details").GetProperty("detail").GetString(), Does.Contain("needs a key with write scope"));
    }

    [TestCase("text/plain", "please withdraw", "body", "must be JSON")]
    [TestCase("application/json", "{\"reason\": ", "body", "not valid JSON")]
    [TestCase("application/json", "not json", "body", "not valid JSON")]
    [TestCase("application/json", "[\"reason\"]", "body", "must be a JSON object")]
    [TestCase("application/json", "\"just a string\"", "body", "must be a JSON object")]
    [TestCase("application/json", "{\"reason\": 42}", "reason", "reason must be a string, not a number")]
    [TestCase("application/json", "{\"reason\": {\"text\": \"x\"}}", "reason", "reason must be a string, not an object")]
    [TestCase("application/json", "{\"reson\": \"typo\"}", "reson", "Unknown field 'reson'")]
    [TestCase("application/json", "{\"reason\": \"x\", \"force\": true}", "force", "Unknown field 'force'")]
    public async Task A_bad_withdraw_body_is_400_naming_why_and_changes_nothing(string contentType, string body, string field, string reason)
    {
        await UploadAllAsync("esp32", "1.2.0");
        await AddRolloutAsync("all-120", "1.2.0", active: true);
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsync($"{Releases}/esp32/1.2.0/withdraw", new StringContent(body, Encoding.UTF8, contentType));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.ProblemTextAsync(), Does.Contain(reason));
        Assert.That(await response.ProblemFieldsAsync(), Is.EquivalentTo(new[] { field }));
        Assert.That(await WithdrawnAsync(), Is.False);
        Assert.That(await RolloutsAsync(), Is.EqualTo(new[] { ("all-120", true, (string?)null) }));
    }

    [Test]
    public async Task A_withdraw_reason_over_1000_characters_is_400()
    {
        await UploadAllAsync("esp32", "1.2.0");
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsJsonAsync($"{Releases}/esp32/1.2.0/withdraw", new { reason = new string('r', 1001) });

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.ProblemFieldsAsync(), Is.EquivalentTo(new[] { "reason" }));
        Assert.That(await WithdrawnAsync(), Is.False);
    }

    [Test]
    public async Task A_withdraw_body_over_64_KiB_is_400()
    {
        await UploadAllAsync("esp32", "1.2.0");
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsync($"{Releases}/esp32/1.2.0/withdraw",
            new StringContent($"{{\"reason\": \"{new string('r', 70_000)}\"}}", Encoding.UTF8, "application/json"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.ProblemTextAsync(), Does.Contain("larger than 65536 bytes"));
        Assert.That(await WithdrawnAsync(), Is.False);
    }

    [TestCase("/esp32/1.2/withdraw", "version")]
    [TestCase("/esp%2432/1.2.0/withdraw", "device_model")]
    public async Task A_bad_withdraw_path_is_400_naming_the_field(string path, string field)
    {
        using var admin = _factory.CreateAdminClient();

        var response = await admin.PostAsync(Releases + path, null);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.ProblemFieldsAsync(), Is.EquivalentTo(new[] { field }));
    }

    private async Task UploadAllAsync(string model, params string[] versions)
    {
        using var admin = _factory.CreateAdminClient();
        foreach (var version in versions)
        {
            var response = await admin.UploadAsync($"version={Uri.EscapeDataString(version)}&device_model={model}", EspImage(seed: version.GetHashCode()));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        }
    }

    private async Task AddRolloutAsync(string name, string version, bool active, string? pauseReason = null)
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            insert into rollouts (name, release_id, firmware_version, device_model, target_type, is_active, pause_reason)
            select @name, id, version, device_model, 'all', @active, @pauseReason from firmware_releases where version = @version
            """, new { name, version, active, pauseReason });
        _factory.RefreshCatalog();
    }

    private async Task<IReadOnlyList<(string Name, bool Active, string? PauseReason)>> RolloutsAsync()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<(string, bool, string?)>("select name, is_active, pause_reason from rollouts order by name")).ToList();
    }

    private async Task<bool> WithdrawnAsync()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return await connection.QuerySingleAsync<bool>("select bool_or(withdrawn_at is not null) from firmware_releases");
    }

    private static IEnumerable<string?> Versions(JsonElement body) =>
        body.GetProperty("releases").EnumerateArray().Select(r => r.GetProperty("version").GetString());
}

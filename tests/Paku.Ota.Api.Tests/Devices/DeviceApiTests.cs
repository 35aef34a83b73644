using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Devices;

/// <summary>The device endpoints on TestServer against the real database: registration, targeting,
/// the lifecycle, downloads and every kind of bad input.</summary>
[NonParallelizable]
public sealed class DeviceApiTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private FleetData _fleet = null!;
    private HttpClient _client = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_devices", new Dictionary<string, string?>
        {
            ["Ota:RateLimit:DeviceRequestsPerWindow"] = "1000",
        });
        _fleet = new FleetData(_db);
        _client = _factory.CreateClient();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _factory.RefreshCatalog();
    }

    private async Task<JsonElement> CheckAsync(string id, string version, string model = "esp32")
    {
        var response = await _client.GetAsync($"/api/firmware/check?device_id={id}&device_model={model}&current_version={version}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<HttpResponseMessage> ReportAsync(string id, string version, string status, int progress = 0, string? error = null) =>
        await _client.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = version, status, progress_percent = progress, error_message = error });

    private async Task CatalogChangedAsync() => _factory.RefreshCatalog();

    [Test]
    public async Task First_check_registers_the_device_and_later_checks_refresh_it()
    {
        var first = await CheckAsync("esp32_001", "1.0.0");
        var seenFirst = await _fleet.ScalarAsync<DateTime>("select last_seen from devices where device_id = 'esp32_001'");
        await Task.Delay(20);
        await CheckAsync("esp32_001", "v1.0.1", model: "esp32s3");

        var row = (await _fleet.QueryAsync<(string Model, string Version, DateTime LastSeen, DateTime FirstSeen)>(
            "select device_model, current_firmware_version, last_seen, first_seen from devices where device_id = 'esp32_001'")).Single();
        Assert.That(first.GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That(first.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(row.Model, Is.EqualTo("esp32s3"));
        Assert.That(row.Version, Is.EqualTo("1.0.1"), "a leading v is normalised");
        Assert.That(row.LastSeen, Is.GreaterThan(seenFirst));
        Assert.That(row.FirstSeen, Is.LessThanOrEqualTo(seenFirst));
    }

    [Test]
    public async Task Check_answers_every_field_the_seed_device_reads()
    {
        var image = FleetData.Image(10_000);
        await _fleet.AddReleaseAsync("esp32", "1.1.0", image, notes: "Bug fixes");
        await _fleet.AddRolloutAsync("all-1.1.0", "esp32", "1.1.0", "all");
        await CatalogChangedAsync();

        var answer = await CheckAsync("esp32_001", "1.0.0");

        Assert.That(answer.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("current_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(answer.GetProperty("latest_version").GetString(), Is.EqualTo("1.1.0"));
        Assert.That(answer.GetProperty("download_url").GetString(), Is.EqualTo("/api/firmware/download/1.1.0?device_model=esp32"));
        Assert.That(answer.GetProperty("checksum_sha256").GetString(), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(image))));
        Assert.That(answer.GetProperty("size_bytes").GetInt64(), Is.EqualTo(10_000));
        Assert.That(answer.GetProperty("release_notes").GetString(), Is.EqualTo("Bug fixes"));
        Assert.That(answer.GetProperty("rollout").GetString(), Is.EqualTo("all-1.1.0"));
        Assert.That(answer.GetProperty("is_rollback").GetBoolean(), Is.False);
        Assert.That(answer.GetProperty("signature").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(answer.GetProperty("next_check_seconds").GetInt32(), Is.InRange(3240, 3960), "an hour, ±10 % jitter");
    }

    [Test]
    public async Task Next_check_is_spread_so_a_fleet_does_not_come_back_together()
    {
        var seconds = new HashSet<int>();
        for (var i = 0; i < 20; i++)
        {
            seconds.Add((await CheckAsync($"esp32_{i:D3}", "1.0.0")).GetProperty("next_check_seconds").GetInt32());
        }

        Assert.That(seconds, Has.Count.GreaterThan(10));
    }

    [Test]
    public async Task Specific_rollout_offers_only_the_listed_devices()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("test", "esp32", "1.1.0", "specific", """{"device_ids": ["esp32_test1", "esp32_test2"]}""");
        await CatalogChangedAsync();

        Assert.That((await CheckAsync("esp32_test1", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("esp32_test2", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("esp32_other", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Group_rollout_offers_devices_in_any_listed_group_and_never_devices_without_groups()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("warehouse", "esp32", "1.1.0", "group", """{"groups": ["location:warehouse", "function:sensor"]}""");
        foreach (var id in new[] { "in_warehouse", "a_sensor", "elsewhere", "no_groups" })
        {
            await CheckAsync(id, "1.0.0");
        }

        await _fleet.SetGroupsAsync("in_warehouse", "location:warehouse");
        await _fleet.SetGroupsAsync("a_sensor", "function:sensor", "env:production");
        await _fleet.SetGroupsAsync("elsewhere", "location:office");
        await CatalogChangedAsync();

        Assert.That((await CheckAsync("in_warehouse", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("a_sensor", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("elsewhere", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That((await CheckAsync("no_groups", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Canary_offers_about_its_percentage_of_the_fleet_and_the_same_devices_every_time()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("canary", "esp32", "1.1.0", "canary", percentage: 25);
        await CatalogChangedAsync();

        var offered = new List<string>();
        for (var i = 0; i < 400; i++)
        {
            if ((await CheckAsync($"dev_{i:D4}", "1.0.0")).GetProperty("update_available").GetBoolean())
            {
                offered.Add($"dev_{i:D4}");
            }
        }

        var again = new List<string>();
        foreach (var id in offered.Take(20))
        {
            if ((await CheckAsync(id, "1.0.0")).GetProperty("update_available").GetBoolean())
            {
                again.Add(id);
            }
        }

        Assert.That(offered, Has.Count.InRange(60, 140), "25 % of 400 is 100");
        Assert.That(again, Is.EqualTo(offered.Take(20)));
    }

    [Test]
    public async Task Paused_rollout_and_other_models_release_are_never_offered()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddReleaseAsync("esp8266", "2.0.0");
        await _fleet.AddRolloutAsync("paused", "esp32", "1.1.0", "all", active: false);
        await _fleet.AddRolloutAsync("other-model", "esp8266", "2.0.0", "all");
        await CatalogChangedAsync();

        Assert.That((await CheckAsync("esp32_001", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Min_version_keeps_devices_that_are_too_old()
    {
        await _fleet.AddReleaseAsync("esp32", "2.0.0", minVersion: "1.5.0");
        await _fleet.AddRolloutAsync("all-2", "esp32", "2.0.0", "all");
        await CatalogChangedAsync();

        Assert.That((await CheckAsync("old", "1.4.9")).GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That((await CheckAsync("recent", "1.5.0")).GetProperty("update_available").GetBoolean(), Is.True);
    }

    [Test]
    public async Task No_downgrade_unless_the_rollout_allows_it_and_then_it_is_marked_as_rollback()
    {
        await _fleet.AddReleaseAsync("esp32", "1.0.0");
        await _fleet.AddRolloutAsync("old", "esp32", "1.0.0", "all");
        await CatalogChangedAsync();
        Assert.That((await CheckAsync("esp32_001", "1.2.0")).GetProperty("update_available").GetBoolean(), Is.False);

        await _fleet.AddRolloutAsync("rollback", "esp32", "1.0.0", "specific", """{"device_ids": ["esp32_001"]}""", allowDowngrade: true);
        await CatalogChangedAsync();
        var answer = await CheckAsync("esp32_001", "1.2.0");

        Assert.That(answer.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(answer.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(answer.GetProperty("is_rollback").GetBoolean(), Is.True);
    }

    [Test]
    public async Task Versions_compare_by_semver_not_as_strings()
    {
        await _fleet.AddReleaseAsync("esp32", "1.10.0");
        await _fleet.AddRolloutAsync("ten", "esp32", "1.10.0", "all");
        await CatalogChangedAsync();

        Assert.That((await CheckAsync("a", "1.9.0")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("b", "1.10.0-rc.1")).GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That((await CheckAsync("c", "1.10.0")).GetProperty("update_available").GetBoolean(), Is.False);
    }

    [Test]
    public async Task Reported_success_then_check_in_on_the_new_version_confirms_the_update()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("all", "esp32", "1.1.0", "all");
        await CatalogChangedAsync();
        await CheckAsync("esp32_001", "1.0.0");

        foreach (var (status, progress) in new[] { ("downloading", 0), ("downloading", 50), ("installing", 100), ("success", 100) })
        {
            var response = await ReportAsync("esp32_001", "1.1.0", status, progress);
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        }

        var after = await CheckAsync("esp32_001", "1.1.0");

        var history = await _fleet.QueryAsync<(string Status, string Source)>(
            "select status, source from device_update_status where device_id = 'esp32_001' order by id");
        var state = await _fleet.ScalarAsync<string>("select status from rollout_devices where device_id = 'esp32_001'");
        Assert.That(after.GetProperty("update_available").GetBoolean(), Is.False);
        Assert.That(history.Select(h => h.Status), Is.EqualTo(new[] { "downloading", "downloading", "installing", "success", "confirmed" }));
        Assert.That(history[^1].Source, Is.EqualTo("server"));
        Assert.That(state, Is.EqualTo("confirmed"));
        Assert.That(await _fleet.ScalarAsync<string>("select update_status from devices where device_id = 'esp32_001'"), Is.EqualTo("confirmed"));
    }

    [Test]
    public async Task Check_in_still_on_the_old_version_after_success_marks_the_update_rolled_back()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("all", "esp32", "1.1.0", "all");
        await CatalogChangedAsync();
        await CheckAsync("esp32_001", "1.0.0");
        await ReportAsync("esp32_001", "1.1.0", "success", 100);

        await CheckAsync("esp32_001", "1.0.0");

        Assert.That(await _fleet.ScalarAsync<string>("select status from rollout_devices where device_id = 'esp32_001'"), Is.EqualTo("rolled_back"));
        Assert.That(await _fleet.ScalarAsync<string>(
            "select status from device_update_status where device_id = 'esp32_001' order by id desc limit 1"), Is.EqualTo("rolled_back"));
    }

    [Test]
    public async Task A_stale_report_is_kept_in_history_without_moving_the_state_back()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("all", "esp32", "1.1.0", "all");
        await CatalogChangedAsync();
        await CheckAsync("esp32_001", "1.0.0");
        await ReportAsync("esp32_001", "1.1.0", "success", 100);

        var late = await ReportAsync("esp32_001", "1.1.0", "downloading", 40);
        var receipt = await late.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(late.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(receipt.GetProperty("state").GetString(), Is.EqualTo("success"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from device_update_status where device_id = 'esp32_001'"), Is.EqualTo(2));
        Assert.That(await _fleet.ScalarAsync<string>("select update_status from devices where device_id = 'esp32_001'"), Is.EqualTo("success"));
    }

    [Test]
    public async Task Download_serves_the_image_with_checksum_etag_and_range_support()
    {
        var image = FleetData.Image(50_000, seed: 7);
        var sha = Convert.ToHexStringLower(SHA256.HashData(image));
        await _fleet.AddReleaseAsync("esp32", "1.1.0", image);
        await CatalogChangedAsync();

        var full = await _client.GetAsync("/api/firmware/download/1.1.0?device_model=esp32");
        var bytes = await full.Content.ReadAsByteArrayAsync();

        Assert.That(full.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(bytes, Is.EqualTo(image));
        Assert.That(full.Content.Headers.ContentLength, Is.EqualTo(50_000));
        Assert.That(full.Headers.GetValues("X-Checksum-SHA256").Single(), Is.EqualTo(sha));
        Assert.That(full.Headers.ETag?.Tag, Is.EqualTo($"\"{sha}\""));
        Assert.That(full.Headers.AcceptRanges, Does.Contain("bytes"));

        using var ranged = new HttpRequestMessage(HttpMethod.Get, "/api/firmware/download/1.1.0?device_model=esp32");
        ranged.Headers.Range = new RangeHeaderValue(20_000, null);
        var partial = await _client.SendAsync(ranged);
        Assert.That(partial.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
        Assert.That(await partial.Content.ReadAsByteArrayAsync(), Is.EqualTo(image[20_000..]));
        Assert.That(partial.Content.Headers.ContentRange?.ToString(), Is.EqualTo("bytes 20000-49999/50000"));

        using var beyond = new HttpRequestMessage(HttpMethod.Get, "/api/firmware/download/1.1.0?device_model=esp32");
        beyond.Headers.Range = new RangeHeaderValue(60_000, null);
        var unsatisfiable = await _client.SendAsync(beyond);
        Assert.That(unsatisfiable.StatusCode, Is.EqualTo(HttpStatusCode.RequestedRangeNotSatisfiable));
        Assert.That(unsatisfiable.Content.Headers.ContentRange?.ToString(), Is.EqualTo("bytes */50000"), "the size, so the device can start over");
        Assert.That(unsatisfiable.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await unsatisfiable.Content.ReadAsStringAsync(), Does.Contain("has 50000 bytes"));

        using var head = new HttpRequestMessage(HttpMethod.Head, "/api/firmware/download/1.1.0?device_model=esp32");
        var headResponse = await _client.SendAsync(head);
        Assert.That(headResponse.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(headResponse.Content.Headers.ContentLength, Is.EqualTo(50_000));
    }

    [Test]
    public async Task Download_resolves_the_model_from_the_registered_device_or_a_unique_release()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0", FleetData.Image(100, 1));
        await _fleet.AddReleaseAsync("esp8266", "1.1.0", FleetData.Image(200, 2));
        await _fleet.AddReleaseAsync("esp8266", "3.0.0", FleetData.Image(300, 3));
        await CatalogChangedAsync();
        await CheckAsync("esp8266_001", "1.0.0", model: "esp8266");

        var ambiguous = await _client.GetAsync("/api/firmware/download/1.1.0");
        var byDevice = await _client.GetAsync("/api/firmware/download/1.1.0?device_id=esp8266_001");
        var unique = await _client.GetAsync("/api/firmware/download/3.0.0");
        var unknown = await _client.GetAsync("/api/firmware/download/9.9.9?device_model=esp32");

        Assert.That(ambiguous.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await ambiguous.Content.ReadAsStringAsync(), Does.Contain("esp32, esp8266"));
        Assert.That((await byDevice.Content.ReadAsByteArrayAsync()).Length, Is.EqualTo(200));
        Assert.That((await unique.Content.ReadAsByteArrayAsync()).Length, Is.EqualTo(300));
        Assert.That(unknown.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(unknown.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }

    [Test]
    public async Task Withdrawn_release_is_not_served()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.ScalarAsync<int>("update firmware_releases set withdrawn_at = now(), withdrawn_reason = 'bricks boards' returning 1");
        await CatalogChangedAsync();

        var response = await _client.GetAsync("/api/firmware/download/1.1.0?device_model=esp32");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Gone));
    }

    [TestCase("device_model=esp32&current_version=1.0.0", "device_id")]
    [TestCase("device_id=esp32_001&current_version=1.0.0", "device_model")]
    [TestCase("device_id=esp32_001&device_model=esp32", "current_version")]
    [TestCase("device_id=esp32_001&device_model=esp32&current_version=1.0", "current_version")]
    [TestCase("device_id=esp32_001&device_model=esp32&current_version=latest", "current_version")]
    [TestCase("device_id=esp32 001&device_model=esp32&current_version=1.0.0", "device_id")]
    [TestCase("device_id=esp32_001&device_model=es/p32&current_version=1.0.0", "device_model")]
    [TestCase("device_id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&device_model=esp32&current_version=1.0.0", "device_id")]
    [TestCase("device_id=a&device_id=b&device_model=esp32&current_version=1.0.0", "device_id")]
    public async Task Bad_check_input_is_a_400_naming_the_field_and_registers_nothing(string query, string field)
    {
        var response = await _client.GetAsync("/api/firmware/check?" + query);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, problem.ToString());
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from devices"), Is.Zero);
    }

    public static IEnumerable<TestCaseData> BadReports()
    {
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"done","progress_percent":10}""", "status");
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"confirmed","progress_percent":10}""", "status");
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"1.1.0","progress_percent":10}""", "status");
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"downloading","progress_percent":101}""", "progress_percent");
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"downloading","progress_percent":-1}""", "progress_percent");
        yield return new TestCaseData("""{"device_id":"esp32_001","firmware_version":"one","status":"downloading","progress_percent":1}""", "firmware_version");
        yield return new TestCaseData("""{"device_id":"esp32_001","status":"downloading","progress_percent":1}""", "firmware_version");
        yield return new TestCaseData("""{"device_id":"esp32_002","firmware_version":"1.1.0","status":"downloading","progress_percent":1}""", "device_id");
        yield return new TestCaseData($$"""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"failed","progress_percent":1,"error_message":"{{new string('x', 2001)}}"}""", "error_message");
    }

    [TestCaseSource(nameof(BadReports))]
    public async Task Bad_status_report_is_a_400_naming_the_field_and_stores_nothing(string body, string field)
    {
        await CheckAsync("esp32_001", "1.0.0");

        var response = await _client.PostAsync("/api/device/esp32_001/update-status", new StringContent(body, Encoding.UTF8, "application/json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(problem.GetProperty("errors").TryGetProperty(field, out _), Is.True, problem.ToString());
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from device_update_status"), Is.Zero);
    }

    [TestCase("{not json", "application/json")]
    [TestCase("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"downloading","progress_percent":"ten"}""", "application/json")]
    [TestCase("""{"device_id":"esp32_001","firmware_version":"1.1.0","status":"downloading","progress_percent":10.5}""", "application/json")]
    [TestCase("""[1,2,3]""", "application/json")]
    public async Task Malformed_status_body_is_a_400_problem_and_stores_nothing(string body, string contentType)
    {
        await CheckAsync("esp32_001", "1.0.0");

        var response = await _client.PostAsync("/api/device/esp32_001/update-status", new StringContent(body, Encoding.UTF8, contentType));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from device_update_status"), Is.Zero);
    }

    [Test]
    public async Task Status_body_that_is_not_json_is_refused_with_415()
    {
        var response = await _client.PostAsync("/api/device/esp32_001/update-status", new StringContent("status=success", Encoding.UTF8, "text/plain"));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnsupportedMediaType));
    }

    [Test]
    public async Task Status_from_a_device_that_never_checked_in_is_a_404()
    {
        var response = await ReportAsync("stranger", "1.1.0", "downloading");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from device_update_status"), Is.Zero);
    }

    [Test]
    public async Task A_device_over_its_request_budget_gets_429_with_retry_after()
    {
        await using var strict = new ApiFactory(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:RateLimit:DeviceRequestsPerWindow"] = "3",
            ["Ota:RateLimit:WindowSeconds"] = "3600",
        });
        using var client = strict.CreateClient();
        using var meters = new MeterRecorder(strict.Services);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await client.GetAsync("/api/firmware/check?device_id=chatty&device_model=esp32&current_version=1.0.0")).StatusCode);
        }

        var limited = await client.GetAsync("/api/firmware/check?device_id=chatty&device_model=esp32&current_version=1.0.0");
        var other = await client.GetAsync("/api/firmware/check?device_id=quiet&device_model=esp32&current_version=1.0.0");

        Assert.That(statuses, Is.EqualTo(new[] { HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests }));
        Assert.That(limited.Headers.RetryAfter?.Delta, Is.Not.Null);
        Assert.That(other.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the budget is per device");
        Assert.That(meters.Sum("ota.checks", ("outcome", "rate_limited")), Is.EqualTo(3));
    }

    [Test]
    public async Task Downloads_past_the_concurrency_cap_get_503_with_retry_after()
    {
        await using var capped = new ApiFactory(_db.ConnectionString, new Dictionary<string, string?> { ["Ota:Downloads:MaxConcurrent"] = "0" });
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        using var client = capped.CreateClient();

        var response = await client.GetAsync("/api/firmware/download/1.1.0?device_model=esp32");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(response.Headers.RetryAfter?.Delta, Is.EqualTo(TimeSpan.FromSeconds(30)));
    }

    [Test]
    public async Task Check_outcomes_are_counted_in_metrics_by_model()
    {
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("all", "esp32", "1.1.0", "all");
        await CatalogChangedAsync();
        await CheckAsync("m1", "1.0.0");
        await CheckAsync("m2", "1.1.0");
        await _client.GetAsync("/api/firmware/check?device_id=m3&device_model=esp32&current_version=bad");

        var metrics = await _client.GetStringAsync("/metrics");

        Assert.That(metrics, Does.Match("ota_checks_total\\{[^}]*model=\"esp32\"[^}]*outcome=\"offered\"[^}]*\\} [1-9]"));
        Assert.That(metrics, Does.Match("ota_checks_total\\{[^}]*model=\"esp32\"[^}]*outcome=\"up_to_date\"[^}]*\\} [1-9]"));
        Assert.That(metrics, Does.Match("ota_checks_total\\{[^}]*model=\"esp32\"[^}]*outcome=\"rejected\"[^}]*\\} [1-9]"));
        Assert.That(metrics, Does.Not.Contain("m1"), "no device ids in labels");
    }
}

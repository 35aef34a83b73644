using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Rollouts;

/// <summary>Maintenance windows and pacing through the API: the service's clock is a <see cref="TestClock"/>
/// (kept within an hour of the real time, so that the database's now() and attempt deadlines still agree),
/// and pacing is shared by two service instances on one database.</summary>
[NonParallelizable]
public sealed class WindowsAndPacingTests
{
    private TestDatabase _db = null!;
    private TestClock _clock = null!;
    private WebApplicationFactoryWithClock _first = null!;
    private WebApplicationFactoryWithClock _second = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_windows_pacing");
        _clock = new TestClock(DateTimeOffset.UtcNow);
        _first = new WebApplicationFactoryWithClock(new ApiFactory(_db.ConnectionString, AdminFixtures.Settings), _clock);
        _second = new WebApplicationFactoryWithClock(new ApiFactory(_db.ConnectionString, AdminFixtures.Settings), _clock);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _clock.Now = DateTimeOffset.UtcNow;
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.2.0");
        _first.RefreshCatalog();
        _second.RefreshCatalog();
    }

    [Test]
    public async Task A_window_closing_and_opening_is_seen_by_the_next_check_and_a_device_mid_download_is_not_cut_off()
    {
        // a 30-minute window that opens in ten minutes (local UTC hours, whatever the time of the run)
        var opens = new DateTimeOffset(_clock.Now.Ticks - _clock.Now.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero).AddMinutes(10);
        var window = $$"""[{"start": "{{opens:HH:mm}}", "end": "{{opens.AddMinutes(30):HH:mm}}"}]""";
        await CreateAsync($$"""{"name": "nightly", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all", "windows": {{window}}}""");
        using var devices = _first.CreateClient();

        var before = new List<int>();
        for (var i = 0; i < 60; i++)
        {
            var answer = await devices.CheckAsync($"dev{i:D3}", "esp32", "1.0.0");
            Assert.That(answer.GetProperty("update_available").GetBoolean(), Is.False, "the window is closed");
            Assert.That(answer.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"), "the seed's 'no update' shape");
            before.Add(answer.GetProperty("next_check_seconds").GetInt32());
        }

        var untilOpening = (int)(opens - _clock.Now).TotalSeconds;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(before.Min(), Is.GreaterThanOrEqualTo(untilOpening), "nobody comes back before the window opens");
            Assert.That(before.Max(), Is.LessThanOrEqualTo(untilOpening + 30 * 60 + 1), "nobody comes back after it closes");
            Assert.That(before.Max() - before.Min(), Is.GreaterThan(15 * 60), "the fleet is spread over the window, not at its first second");
        }

        using var admin = _first.CreateAdminClient();
        var explained = await (await admin.GetAsync("/api/admin/devices/dev000/explain")).JsonAsync();
        Assert.That(explained.GetProperty("summary").GetString(), Does.Contain($"outside window, next opens at {opens.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}"));
        Assert.That(explained.GetProperty("hold").GetProperty("reason").GetString(), Is.EqualTo("outside_window"));
        Assert.That(explained.GetProperty("rollouts")[0].GetProperty("verdict").GetString(), Is.EqualTo("outside_window"));

        _clock.Now = opens.AddSeconds(30);
        Assert.That((await devices.CheckAsync("dev000", "esp32", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True, "open");
        Assert.That((await devices.CheckAsync("dev001", "esp32", "1.0.0")).GetProperty("update_available").GetBoolean(), Is.True, "open");
        await ReportAsync(devices, "dev000", "downloading", 30);

        _clock.Now = opens.AddMinutes(31);
        var midDownload = await devices.CheckAsync("dev000", "esp32", "1.0.0");
        var offeredOnly = await devices.CheckAsync("dev001", "esp32", "1.0.0");
        var fresh = await devices.CheckAsync("dev100", "esp32", "1.0.0");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(midDownload.GetProperty("update_available").GetBoolean(), Is.True, "a device downloading when the window closed is not cut off");
            Assert.That(offeredOnly.GetProperty("update_available").GetBoolean(), Is.False, "an offer not started waits for the next window");
            Assert.That(fresh.GetProperty("update_available").GetBoolean(), Is.False, "closed again");
        }
    }

    [Test]
    public async Task Pacing_holds_across_two_service_instances_minute_by_minute()
    {
        await CreateAsync("""{"name": "paced", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all", "pace": {"per_minute": 7}}""");
        using var first = _first.CreateClient();
        using var second = _second.CreateClient();
        var minute = new DateTimeOffset(_clock.Now.Ticks - _clock.Now.Ticks % TimeSpan.TicksPerMinute, TimeSpan.Zero);
        var fleet = Enumerable.Range(0, 120).Select(i => $"dev{i:D3}").ToList();
        var admitted = new HashSet<string>();

        var perMinute = new List<int>();
        for (var m = 0; m < 3; m++)
        {
            _clock.Now = minute.AddMinutes(m).AddSeconds(5);
            // every device that is not in yet checks, through either instance, all at once
            var waiting = fleet.Where(d => !admitted.Contains(d)).ToList();
            var answers = await Task.WhenAll(waiting.Select((id, i) => (i % 2 == 0 ? first : second).CheckAsync(id, "esp32", "1.0.0")));
            var offered = waiting.Where((_, i) => answers[i].GetProperty("update_available").GetBoolean()).ToList();
            Assert.That(offered, Has.Count.LessThanOrEqualTo(7), $"minute {m}: the two instances together must not pass the pace");
            perMinute.Add(offered.Count);
            admitted.UnionWith(offered);

            var deferred = answers.Where(a => !a.GetProperty("update_available").GetBoolean()).Select(a => a.GetProperty("next_check_seconds").GetInt32()).ToList();
            Assert.That(deferred.Min(), Is.GreaterThanOrEqualTo(55), "a paced device comes back after the minute is over");
        }

        // a device admitted earlier is offered again without spending the new minute's budget
        _clock.Now = minute.AddMinutes(3).AddSeconds(5);
        var again = await first.CheckAsync(admitted.First(), "esp32", "1.0.0");
        var newcomers = await Task.WhenAll(fleet.Where(d => !admitted.Contains(d)).Take(20).Select((id, i) => (i % 2 == 0 ? second : first).CheckAsync(id, "esp32", "1.0.0")));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(perMinute, Is.EqualTo(new[] { 7, 7, 7 }), "the two instances together offer exactly the pace each minute");
            Assert.That(again.GetProperty("update_available").GetBoolean(), Is.True);
            Assert.That(newcomers.Count(a => a.GetProperty("update_available").GetBoolean()), Is.EqualTo(7), "the re-offer spent nothing");
            Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollout_devices"), Is.EqualTo(4 * 7), "offers stored: 7 a minute");
        }
    }

    [Test]
    public async Task The_in_flight_limit_holds_across_two_instances_and_frees_a_slot_when_an_attempt_ends()
    {
        await CreateAsync("""{"name": "narrow", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "all", "pace": {"max_in_flight": 5}}""");
        using var first = _first.CreateClient();
        using var second = _second.CreateClient();
        var fleet = Enumerable.Range(0, 40).Select(i => $"dev{i:D3}").ToList();

        var answers = await Task.WhenAll(fleet.Select((id, i) => (i % 2 == 0 ? first : second).CheckAsync(id, "esp32", "1.0.0")));
        var offered = fleet.Where((_, i) => answers[i].GetProperty("update_available").GetBoolean()).ToList();
        Assert.That(offered, Has.Count.EqualTo(5));

        foreach (var id in offered.Take(2))
        {
            await ReportAsync(first, id, "downloading", 10);
            await ReportAsync(first, id, "failed", 10);
        }

        await ReportAsync(first, offered[2], "downloading", 10); // still in flight
        _clock.Advance(TimeSpan.FromSeconds(10)); // past the instances' memory of the refusal
        var waiting = fleet.Except(offered).ToList();
        var later = await Task.WhenAll(waiting.Select((id, i) => (i % 2 == 0 ? second : first).CheckAsync(id, "esp32", "1.0.0")));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(later.Count(a => a.GetProperty("update_available").GetBoolean()), Is.EqualTo(2), "two attempts ended: two slots");
            Assert.That(await AdminFixtures.CountAsync(_db, "select in_flight from rollout_health"), Is.EqualTo(5));
        }

        using var admin = _first.CreateAdminClient();
        var rollout = await (await admin.GetAsync("/api/admin/rollout/narrow")).JsonAsync();
        Assert.That(rollout.GetProperty("pace").GetProperty("in_flight").GetInt32(), Is.EqualTo(5));
        // a device still waiting (which two of the concurrent checks got the freed slots is up to the race)
        var stillWaiting = waiting.Where((_, i) => !later[i].GetProperty("update_available").GetBoolean()).Last();
        var explained = await (await admin.GetAsync($"/api/admin/devices/{stillWaiting}/explain")).JsonAsync();
        Assert.That(explained.GetProperty("summary").GetString(), Does.Contain("paced: 5 attempts are in flight, at most 5"));
    }

    [Test]
    public async Task Windows_and_pace_are_created_changed_and_shown_and_bad_ones_are_refused_naming_the_field()
    {
        var fingerprint = await AdminFixtures.FingerprintAsync(_db);
        using var admin = _first.CreateAdminClient();
        const string Rollout = "\"name\": \"w\", \"firmware_version\": \"1.2.0\", \"device_model\": \"esp32\", \"target_type\": \"all\"";
        (string Body, string Field)[] bad =
        [
            ($$$"""{{{{Rollout}}}, "windows": [{"start": "25:00", "end": "04:00"}]}""", "windows[0].start"),
            ($$$"""{{{{Rollout}}}, "windows": [{"start": "22:00", "end": "04:00"}, {"start": "22:00"}]}""", "windows[1].end"),
            ($$$"""{{{{Rollout}}}, "windows": [{"start": "22:00", "end": "04:00", "time_zone": "Mars/Olympus_Mons"}]}""", "windows[0].time_zone"),
            ($$$"""{{{{Rollout}}}, "windows": [{"start": "22:00", "end": "04:00", "days": ["someday"]}]}""", "windows[0].days[0]"),
            ($$$"""{{{{Rollout}}}, "windows": [{"start": "22:00", "end": "04:00", "hours": 3}]}""", "windows[0].hours"),
            ($$$"""{{{{Rollout}}}, "windows": [7]}""", "windows[0]"),
            ($$$"""{{{{Rollout}}}, "windows": {"start": "22:00"}}""", "windows"),
            ($$$"""{{{{Rollout}}}, "pace": {"per_minute": 0}}""", "pace.per_minute"),
            ($$$"""{{{{Rollout}}}, "pace": {"max_in_flight": 1.5}}""", "pace.max_in_flight"),
        ];
        foreach (var (body, field) in bad)
        {
            await (await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body)).AssertProblemAsync(HttpStatusCode.BadRequest, field);
        }

        Assert.That(await AdminFixtures.FingerprintAsync(_db), Is.EqualTo(fingerprint), "nothing was stored");

        await CreateAsync($$$"""{{{{Rollout}}}, "windows": [{"days": ["sat", "mon"], "start": "22:00", "end": "04:00", "time_zone": "Europe/Berlin"}], "pace": {"per_minute": 50}}""");
        var created = await (await admin.GetAsync("/api/admin/rollout/w")).JsonAsync();
        Assert.That(created.GetProperty("windows").GetRawText(), Is.EqualTo("""[{"days":["mon","sat"],"start":"22:00","end":"04:00","time_zone":"Europe/Berlin"}]"""));
        Assert.That(created.GetProperty("pace").GetProperty("per_minute").GetInt32(), Is.EqualTo(50));

        await (await admin.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/w", """{"windows": [{"start": "01:00", "end": "25:61"}]}"""))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "windows[0].end");
        var patched = await (await admin.SendJsonAsync(HttpMethod.Patch, "/api/admin/rollout/w", """{"windows": [], "pace": {"max_in_flight": 3}}""")).JsonAsync();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(patched.GetProperty("windows").GetArrayLength(), Is.Zero);
            Assert.That(patched.GetProperty("pace").GetProperty("per_minute").ValueKind, Is.EqualTo(JsonValueKind.Null), "the pace is replaced as a whole");
            Assert.That(patched.GetProperty("pace").GetProperty("max_in_flight").GetInt32(), Is.EqualTo(3));
        }
    }

    private async Task CreateAsync(string body)
    {
        using var admin = _first.CreateAdminClient();
        var response = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
        _second.RefreshCatalog();
    }

    private static async Task ReportAsync(HttpClient client, string deviceId, string status, int progress)
    {
        var response = await client.SendJsonAsync(HttpMethod.Post, $"/api/device/{deviceId}/update-status",
            $$"""{"device_id": "{{deviceId}}", "firmware_version": "1.2.0", "status": "{{status}}", "progress_percent": {{progress}}}""");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    /// <summary>An <see cref="ApiFactory"/> whose service reads the time from a <see cref="TestClock"/>.</summary>
    private sealed class WebApplicationFactoryWithClock(ApiFactory factory, TestClock clock) : IAsyncDisposable
    {
        private readonly Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> _app =
            factory.WithWebHostBuilder(b => b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(clock)));

        public HttpClient CreateClient() => _app.CreateClient();

        public HttpClient CreateAdminClient()
        {
            var client = _app.CreateClient();
            client.DefaultRequestHeaders.Add(Paku.Ota.Api.Security.AdminPolicies.HeaderName, ApiFactory.WriteKey);
            return client;
        }

        public void RefreshCatalog() => _app.Services.GetRequiredService<Paku.Ota.Application.Catalog.ICatalog>().Invalidate();

        public async ValueTask DisposeAsync()
        {
            await _app.DisposeAsync();
            await factory.DisposeAsync();
        }
    }
}

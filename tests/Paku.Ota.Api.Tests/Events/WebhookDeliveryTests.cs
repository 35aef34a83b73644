using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Infrastructure.Metrics;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Events;

/// <summary>Rollout events reach a real HTTP receiver: signed, retried with backoff until it accepts,
/// kept across a restart, sent once however many replicas run, and visible to an admin while they are on
/// their way. Each test starts the service(s) it needs against one database and one receiver.</summary>
[NonParallelizable]
public sealed class WebhookDeliveryTests
{
    private const string Secret = "whsec-test-0123456789abcdef";
    private static readonly byte[] SecretBytes = Encoding.UTF8.GetBytes(Secret);

    private TestDatabase _db = null!;
    private FleetData _fleet = null!;
    private WebhookReceiver _receiver = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_webhooks");
        _fleet = new FleetData(_db);
        _receiver = await WebhookReceiver.StartAsync();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _receiver.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _receiver.Reset();
        await _fleet.AddReleaseAsync("esp32", "1.0.0");
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
    }

    [Test]
    public async Task A_halt_is_posted_with_its_reason_and_figures_signed_so_that_a_tampered_or_replayed_copy_is_refused()
    {
        await using var service = Service();
        using var admin = service.CreateAdminClient();
        using var devices = service.CreateClient();
        await CreateAsync(admin, new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all", rollout_percentage = 100,
            failure_threshold = new { percent = 10, minimum_attempts = 2 },
        });
        foreach (var id in new[] { "dev1", "dev2" })
        {
            await CheckAsync(devices, id);
            await ReportAsync(devices, id, "downloading");
        }

        await ReportAsync(devices, "dev1", "failed");
        await _receiver.WaitUntilAsync(r => r.Delivered.Any(d => d.Kind == "rollout.halted"), "the halt is delivered");

        var halt = _receiver.Delivered.Single(d => d.Kind == "rollout.halted");
        var now = DateTimeOffset.UtcNow;
        var tampered = (byte[])halt.Body.Clone();
        tampered[^3] ^= 1;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookSignature.Verify(SecretBytes, halt.Signature, halt.Body, now, TimeSpan.FromMinutes(5)), Is.True, halt.Signature);
            Assert.That(WebhookSignature.Verify(SecretBytes, halt.Signature, tampered, now, TimeSpan.FromMinutes(5)), Is.False, "tampered body");
            Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes("another-secret-0123456789"), halt.Signature, halt.Body, now, TimeSpan.FromMinutes(5)), Is.False, "other secret");
            Assert.That(WebhookSignature.Verify(SecretBytes, halt.Signature, halt.Body, now.AddMinutes(10), TimeSpan.FromMinutes(5)), Is.False, "replayed 10 min later");
            Assert.That(WebhookSignature.Verify(SecretBytes, halt.Signature!.Replace("t=", "t=1", StringComparison.Ordinal), halt.Body, now, TimeSpan.FromDays(365_000)), Is.False, "another timestamp");
        }

        using var body = JsonDocument.Parse(halt.Body);
        var root = body.RootElement;
        var data = root.GetProperty("data");
        Assert.That(root.GetProperty("schema").GetInt32(), Is.EqualTo(1));
        Assert.That(root.GetProperty("id").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture), Is.EqualTo(halt.EventId));
        Assert.That(root.GetProperty("rollout").GetProperty("name").GetString(), Is.EqualTo("v1.1.0-all"));
        Assert.That(root.GetProperty("rollout").GetProperty("firmware_version").GetString(), Is.EqualTo("1.1.0"));
        Assert.That(data.GetProperty("reason").GetString(), Is.EqualTo("halted: 1 of 2 attempts failed or rolled back (50 %), above the 10 % threshold"));
        Assert.That(data.GetProperty("figures").GetProperty("attempts").GetInt32(), Is.EqualTo(2));
        Assert.That(data.GetProperty("figures").GetProperty("failed").GetInt32(), Is.EqualTo(1));
        Assert.That(data.GetProperty("figures").GetProperty("failure_rate_percent").GetDecimal(), Is.EqualTo(50m));
        Assert.That(data.GetProperty("figures").GetProperty("threshold_percent").GetDecimal(), Is.EqualTo(10m));
        // the failure's own judgement or the background pass over moved attempts (last moved: dev2) may halt it first
        Assert.That(data.GetProperty("triggered_by").GetString(), Is.AnyOf("dev1", "dev2"));
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_events where kind = 'rollout.halted'"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_receiver_failing_three_times_then_accepting_gets_the_event_once_with_every_attempt_recorded_and_a_dead_endpoint_holds_nothing_back()
    {
        _receiver.Answer = (_, n) => n <= 3 ? 503 : 200;
        await using var service = Service(retrySeconds: 0.4);
        using var meters = new MeterRecorder(service.Services);
        using var admin = service.CreateAdminClient();
        await CreateAsync(admin, new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all" });

        await PatchAsync(admin, "v1.1.0-all", new { is_active = false });
        await _receiver.WaitUntilAsync(r => r.Delivered.Count == 1, "the pause is delivered at the fourth attempt");
        await Task.Delay(1500); // nothing more arrives: it was delivered

        var requests = _receiver.Requests.ToList();
        Assert.That(requests.Select(r => (r.Attempt, r.AnsweredWith)), Is.EqualTo(new[] { (1, 503), (2, 503), (3, 503), (4, 200) }));
        Assert.That(requests.Select(r => r.Kind), Has.All.EqualTo("rollout.paused"));
        Assert.That(requests[3].At - requests[0].At, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(0.2 + 0.4 + 0.8 - 0.1)), "backoff: at least half of 0.4, 0.8 and 1.6 s");

        using var reader = service.CreateAdminClient(write: false);
        var listed = await reader.GetFromJsonAsync<JsonElement>("/api/admin/rollout-events?rollout=v1.1.0-all");
        var deliveries = listed.GetProperty("events").EnumerateArray().Single().GetProperty("deliveries").EnumerateArray()
            .ToDictionary(d => d.GetProperty("endpoint").GetString()!);
        Assert.That(deliveries["ops"].GetProperty("state").GetString(), Is.EqualTo("delivered"));
        Assert.That(deliveries["ops"].GetProperty("attempts").GetInt32(), Is.EqualTo(4));
        Assert.That(deliveries["ops"].GetProperty("last_status").GetInt32(), Is.EqualTo(200));
        Assert.That(deliveries["dead"].GetProperty("state").GetString(), Is.EqualTo("pending"));
        Assert.That(deliveries["dead"].GetProperty("attempts").GetInt32(), Is.GreaterThanOrEqualTo(2));
        Assert.That(deliveries["dead"].GetProperty("last_error").GetString(), Does.StartWith("could not send"));
        Assert.That(deliveries["dead"].GetProperty("next_attempt_at").ValueKind, Is.EqualTo(JsonValueKind.String));
        Assert.That(meters.Sum("ota.webhook.attempts", ("endpoint", "ops"), ("outcome", "failed")), Is.EqualTo(3));
        Assert.That(meters.Sum("ota.webhook.attempts", ("endpoint", "ops"), ("outcome", "delivered")), Is.EqualTo(1));
        await service.Services.GetRequiredService<FleetGauges>().RefreshAsync(CancellationToken.None);
        Assert.That(meters.Gauge("ota.webhook.undelivered", ("endpoint", "dead"), ("state", "pending")), Is.EqualTo(1));
        Assert.That(meters.Gauge("ota.webhook.undelivered", ("endpoint", "ops"), ("state", "pending")), Is.Null, "delivered");
        Assert.That(await admin.GetStringAsync("/metrics"), Does.Contain("ota_webhook_attempts_total"));
    }

    [Test]
    public async Task An_event_whose_delivery_failed_before_a_restart_is_delivered_by_the_restarted_service()
    {
        _receiver.Answer = (_, _) => 500;
        await using (var before = Service(retrySeconds: 6))
        {
            using var admin = before.CreateAdminClient();
            await CreateAsync(admin, new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all" });
            await PatchAsync(admin, "v1.1.0-all", new { is_active = false });
            await _receiver.WaitUntilAsync(r => r.Requests.Count == 1, "the first attempt fails");
        }

        // the first service stopped in its backoff (3 to 6 s); the receiver is fixed meanwhile
        _receiver.Answer = (_, _) => 200;
        await using var after = Service(retrySeconds: 6);
        await _receiver.WaitUntilAsync(r => r.Delivered.Count == 1, "the restarted service delivers it");

        Assert.That(_receiver.Requests.Select(r => (r.Attempt, r.AnsweredWith)), Is.EqualTo(new[] { (1, 500), (2, 200) }));
        Assert.That(await _fleet.ScalarAsync<string>("select state from rollout_event_deliveries where endpoint = 'ops'"), Is.EqualTo("delivered"));
    }

    [Test]
    public async Task A_service_stopped_while_a_receiver_is_still_answering_hands_the_delivery_back_for_the_next_one()
    {
        _receiver.Delay = TimeSpan.FromSeconds(8);
        await using (var before = Service())
        {
            using var admin = before.CreateAdminClient();
            await CreateAsync(admin, new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all" });
            await PatchAsync(admin, "v1.1.0-all", new { is_active = false });
            await WaitForAsync(async () => await _fleet.ScalarAsync<long>("select count(*) from rollout_event_deliveries where endpoint = 'ops' and lease_token is not null") == 1,
                "the delivery is claimed and being sent");
        }

        Assert.That(await _fleet.ScalarAsync<string>("select last_error from rollout_event_deliveries where endpoint = 'ops'"), Does.StartWith("interrupted"));
        _receiver.Delay = TimeSpan.Zero;
        var restarted = DateTime.UtcNow;
        await using var after = Service();
        await _receiver.WaitUntilAsync(r => r.Delivered.Any(d => d.Attempt == 2), "the restarted service sends it again");

        Assert.That(DateTime.UtcNow - restarted, Is.LessThan(TimeSpan.FromSeconds(45)), "not after the 60 s lease");
        Assert.That(await _fleet.ScalarAsync<string>("select state from rollout_event_deliveries where endpoint = 'ops'"), Is.EqualTo("delivered"));
    }

    [Test]
    public async Task Two_service_instances_deliver_every_event_once_and_never_send_one_event_at_the_same_time()
    {
        _receiver.Delay = TimeSpan.FromMilliseconds(150);
        await using var first = Service(batchSize: 4);
        await using var second = Service(batchSize: 4);
        using var firstMeters = new MeterRecorder(first.Services);
        using var secondMeters = new MeterRecorder(second.Services);
        using var admin = first.CreateAdminClient();
        await CreateAsync(admin, new { name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all" });

        for (var i = 0; i < 12; i++)
        {
            await PatchAsync(admin, "v1.1.0-all", new { is_active = i % 2 == 1 });
        }

        await _receiver.WaitUntilAsync(r => r.Delivered.Count >= 12, "12 events delivered", seconds: 120);
        await Task.Delay(1000);

        var perEvent = _receiver.Requests.GroupBy(r => r.EventId).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(perEvent, Has.Count.EqualTo(12));
        Assert.That(perEvent.Values, Has.All.EqualTo(1), "each event is sent once");
        Assert.That(_receiver.MostInFlightOfOneEvent, Is.EqualTo(1));
        var delivered = firstMeters.Sum("ota.webhook.attempts", ("endpoint", "ops"), ("outcome", "delivered")) +
                        secondMeters.Sum("ota.webhook.attempts", ("endpoint", "ops"), ("outcome", "delivered"));
        Assert.That(delivered, Is.EqualTo(12));
        Assert.That(_receiver.Requests.Select(r => r.Kind).Distinct().Order(), Is.EqualTo(new[] { "rollout.paused", "rollout.resumed" }));
    }

    [Test]
    public async Task Resume_rollback_and_the_rollback_s_completion_are_told_and_each_completion_only_once()
    {
        await using var service = Service();
        using var admin = service.CreateAdminClient();
        using var devices = service.CreateClient();
        await CreateAsync(admin, new
        {
            name = "v1.1.0-all", firmware_version = "1.1.0", device_model = "esp32", target_type = "all",
            failure_threshold = new { percent = 10, minimum_attempts = 2 },
        });
        foreach (var id in new[] { "dev1", "dev2" })
        {
            await CheckAsync(devices, id);
            await ReportAsync(devices, id, "downloading");
        }

        await ReportAsync(devices, "dev2", "success");
        await ReportAsync(devices, "dev1", "failed");
        var rollback = await admin.PostAsync("/api/admin/rollout/v1.1.0-all/rollback", null);
        Assert.That(rollback.StatusCode, Is.EqualTo(HttpStatusCode.Created), await rollback.Content.ReadAsStringAsync());

        // dev2 took 1.1.0 and is sent back to 1.0.0; dev1 never left it, so the rollback does not target it
        var offer = await CheckAsync(devices, "dev2", "1.1.0");
        Assert.That(offer.GetProperty("latest_version").GetString(), Is.EqualTo("1.0.0"));
        await ReportAsync(devices, "dev2", "downloading", "1.0.0");
        await ReportAsync(devices, "dev2", "success", "1.0.0");
        await CheckAsync(devices, "dev2", "1.0.0");
        await _receiver.WaitUntilAsync(r => r.Delivered.Any(d => d.Kind == "rollout.completed"), "the rollback's completion is delivered");
        await PatchAsync(admin, "v1.1.0-all", new { is_active = true });
        await _receiver.WaitUntilAsync(r => r.Delivered.Any(d => d.Kind == "rollout.resumed"), "the resume is delivered");
        await Task.Delay(1500); // several sweeps: no second completion

        var kinds = _receiver.Delivered.OrderBy(d => long.Parse(d.EventId, System.Globalization.CultureInfo.InvariantCulture)).Select(d => d.Kind).ToList();
        Assert.That(kinds, Is.EqualTo(new[] { "rollout.halted", "rollout.rollback_started", "rollout.completed", "rollout.resumed" }));
        using var started = JsonDocument.Parse(_receiver.Delivered.Single(d => d.Kind == "rollout.rollback_started").Body);
        Assert.That(started.RootElement.GetProperty("rollout").GetProperty("name").GetString(), Is.EqualTo("v1.1.0-all"));
        Assert.That(started.RootElement.GetProperty("data").GetProperty("rollback_rollout").GetString(), Is.EqualTo("v1.1.0-all-rollback"));
        Assert.That(started.RootElement.GetProperty("data").GetProperty("to_version").GetString(), Is.EqualTo("1.0.0"));
        Assert.That(started.RootElement.GetProperty("data").GetProperty("devices").GetInt32(), Is.EqualTo(1));
        using var completed = JsonDocument.Parse(_receiver.Delivered.Single(d => d.Kind == "rollout.completed").Body);
        Assert.That(completed.RootElement.GetProperty("rollout").GetProperty("name").GetString(), Is.EqualTo("v1.1.0-all-rollback"));
        Assert.That(completed.RootElement.GetProperty("data").GetProperty("confirmed").GetInt32(), Is.EqualTo(1));
        using var resumed = JsonDocument.Parse(_receiver.Delivered.Single(d => d.Kind == "rollout.resumed").Body);
        Assert.That(resumed.RootElement.GetProperty("data").GetProperty("previous_state").GetString(), Is.EqualTo("halted"));
        Assert.That(resumed.RootElement.GetProperty("data").GetProperty("actor").GetString(), Is.EqualTo("test-writer"));
    }

    [Test]
    public async Task Each_phase_advance_automatic_or_manual_is_told_once_in_the_advance_s_transaction()
    {
        const string name = "v1.1.0-phased";
        await using var service = Service();
        using var admin = service.CreateAdminClient();
        using var devices = service.CreateClient();
        await CreateAsync(admin, new
        {
            name, firmware_version = "1.1.0", device_model = "esp32", target_type = "canary",
            // phase 2 soaks an hour: it is left only by the manual advance, not by a sweep that comes first
            phases = new object[] { new { percentage = 10, min_confirmed = 1 }, new { percentage = 50, min_soak_seconds = 3600 }, new { percentage = 100 } },
        });
        var first = Enumerable.Range(0, 500).Select(i => $"esp32_{i:D3}").First(d => Domain.Rollouts.PercentageBucket.Includes(name, d, 10));

        await CheckAsync(devices, first);
        await ReportAsync(devices, first, "downloading");
        await ReportAsync(devices, first, "success");
        await CheckAsync(devices, first, "1.1.0");
        await _receiver.WaitUntilAsync(r => r.Delivered.Count(d => d.Kind == "rollout.phase_advanced") == 1, "the automatic advance is delivered");
        var manual = await admin.PostAsync($"/api/admin/rollout/{name}/advance", null);
        Assert.That(manual.StatusCode, Is.EqualTo(HttpStatusCode.OK), await manual.Content.ReadAsStringAsync());
        await _receiver.WaitUntilAsync(r => r.Delivered.Count(d => d.Kind == "rollout.phase_advanced") == 2, "the manual advance is delivered");
        await Task.Delay(1000); // several sweeps: nothing advances twice

        var advances = _receiver.Delivered.Where(d => d.Kind == "rollout.phase_advanced")
            .Select(d => JsonDocument.Parse(d.Body).RootElement.GetProperty("data")).ToList();
        Assert.That(advances.Select(a => (a.GetProperty("from_phase").GetInt32(), a.GetProperty("to_phase").GetInt32(), a.GetProperty("phases").GetInt32(),
                a.GetProperty("percentage").GetInt32(), a.GetProperty("trigger").GetString(), a.GetProperty("actor").GetString())),
            Is.EqualTo(new[] { (1, 2, 3, 50, "automatic", "system"), (2, 3, 3, 100, "manual", "test-writer") }));
        Assert.That(advances[0].GetProperty("reach").GetString(), Does.Contain("50"));
        Assert.That(advances[0].GetProperty("reason").GetString(), Is.Not.Empty);
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_events where kind = 'rollout.phase_advanced'"),
            Is.EqualTo(await _fleet.ScalarAsync<long>("select count(*) from audit_log where action = 'rollout.phase_advance'")), "one event per audited advance");
    }

    [TestCase("limit=abc", "limit")]
    [TestCase("limit=0", "limit")]
    [TestCase("before_id=-3", "before_id")]
    [TestCase("kind=rollout.exploded", "kind")]
    [TestCase("delivery_state=lost", "delivery_state")]
    [TestCase("rollout=%00", "rollout")]
    public async Task A_bad_query_is_refused_naming_the_field(string query, string field)
    {
        await using var service = Service();
        using var reader = service.CreateAdminClient(write: false);

        var response = await reader.GetAsync($"/api/admin/rollout-events?{query}");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain(field));
    }

    [Test]
    public async Task The_delivery_status_needs_an_api_key()
    {
        await using var service = Service();
        using var anonymous = service.CreateClient();

        Assert.That((await anonymous.GetAsync("/api/admin/rollout-events")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
    }

    /// <summary>The service with two endpoints: the test's receiver ("ops") and one nobody listens on ("dead").</summary>
    private ApiFactory Service(double retrySeconds = 0.2, int batchSize = 20)
    {
        var service = new ApiFactory(_db.ConnectionString, new Dictionary<string, string?>
    {
        ["Ota:Rollouts:Health:EvaluateSeconds"] = "0.1",
        ["Ota:Rollouts:Health:SweepSeconds"] = "0.3",
        ["Ota:Webhooks:PollSeconds"] = "0.05",
        ["Ota:Webhooks:BatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Ota:Webhooks:FirstRetrySeconds"] = retrySeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Ota:Webhooks:MaxRetrySeconds"] = "60",
        ["Ota:Webhooks:Endpoints:0:Name"] = "ops",
        ["Ota:Webhooks:Endpoints:0:Url"] = _receiver.Url.ToString(),
        ["Ota:Webhooks:Endpoints:0:Secret"] = Secret,
        ["Ota:Webhooks:Endpoints:1:Name"] = "dead",
        ["Ota:Webhooks:Endpoints:1:Url"] = "http://127.0.0.1:9/hook",
        ["Ota:Webhooks:Endpoints:1:Secret"] = "dead-endpoint-secret-0123",
    });
        _ = service.Services; // the host starts (and with it the sender) on first use
        return service;
    }

    private static async Task WaitForAsync(Func<Task<bool>> done, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await done())
        {
            Assert.That(DateTime.UtcNow, Is.LessThan(deadline), what);
            await Task.Delay(50);
        }
    }

    private static async Task CreateAsync(HttpClient admin, object body)
    {
        var response = await admin.PostAsJsonAsync("/api/admin/rollout/create", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private static async Task PatchAsync(HttpClient admin, string name, object body)
    {
        var response = await admin.PatchAsJsonAsync($"/api/admin/rollout/{name}", body);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> CheckAsync(HttpClient devices, string id, string version = "1.0.0")
    {
        var response = await devices.GetAsync($"/api/firmware/check?device_id={id}&device_model=esp32&current_version={version}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task ReportAsync(HttpClient devices, string id, string status, string version = "1.1.0")
    {
        var response = await devices.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = version, status, progress_percent = status == "success" ? 100 : 10, error_message = status == "failed" ? "flash write failed" : null });
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Device admission over real TLS, driven deterministically: the service admits one device call at a
/// time (Ota:Admission), the test holds that one call inside the service by locking the devices table, and the
/// next device call must be shed while the admin API and /health still answer. Once with no queue (shed at
/// once: the queue is full), once with a queue and a tiny queueing target (shed when it has waited that long;
/// without the target it would wait behind the lock until the client gave up).</summary>
[NonParallelizable]
[TestFixture(0, 60_000, "Ota:Admission:QueueLimit", "shed_queue_full")]
[TestFixture(8, 150, "Ota:Admission:MaxQueueMilliseconds", "shed_waited")]
public sealed class OverloadAdmissionTests(int queueLimit, int maxQueueMilliseconds, string shedBy, string shedResult)
{
    private TestDatabase _db = null!;
    private RealServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_admission");
        _server = await RealServer.StartAsync(_db.ConnectionString, new Dictionary<string, string?>
        {
            ["Ota:Admission:MaxConcurrent"] = "1",
            ["Ota:Admission:QueueLimit"] = queueLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Admission:MaxQueueMilliseconds"] = maxQueueMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Ota:Admission:OverloadQueueMilliseconds"] = "10",
            ["Ota:Admission:RetryAfterSeconds"] = "7",
        });
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task A_device_call_past_capacity_is_shed_503_with_retry_after_while_admin_and_health_answer()
    {
        using var heldCert = _server.IssueDevice("esp32_held");
        using var shedCert = _server.IssueDevice("esp32_shed");
        using var heldClient = _server.DeviceClient(heldCert);
        using var shedClient = _server.DeviceClient(shedCert);
        using var admin = new HttpClient { BaseAddress = _server.Http, Timeout = TimeSpan.FromSeconds(60) };
        admin.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.WriteKey);

        await using var holder = await _db.DataSource.OpenConnectionAsync();
        await using var transaction = await holder.BeginTransactionAsync();
        await using (var lockCommand = new NpgsqlCommand("lock table devices in exclusive mode", holder, transaction))
        {
            await lockCommand.ExecuteNonQueryAsync();
        }

        var held = heldClient.GetAsync(Check("esp32_held"));
        await WaitUntilACheckWaitsOnTheLockAsync(held);

        var started = DateTime.UtcNow;
        var shed = await shedClient.GetAsync(Check("esp32_shed"));
        var shedAfter = DateTime.UtcNow - started;
        var status = await shedClient.PostAsJsonAsync("/api/device/esp32_shed/update-status",
            new { device_id = "esp32_shed", firmware_version = "1.1.0", status = "downloading", progress_percent = 1 });
        var health = await admin.GetAsync("/health");
        var devices = await admin.GetAsync("/api/admin/devices");
        var metrics = await admin.GetStringAsync("/metrics");

        await transaction.RollbackAsync();
        var admitted = await held;

        Assert.That(shed.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), await shed.Content.ReadAsStringAsync());
        var retryAfter = shed.Headers.RetryAfter?.Delta?.TotalSeconds;
        Assert.That(retryAfter, Is.InRange(7, 14), "Retry-After is spread over [RetryAfterSeconds, 2 x RetryAfterSeconds]");
        Assert.That(shed.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await shed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.That(problem.GetProperty("status").GetInt32(), Is.EqualTo(503));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("Ota:Admission").And.Contain($"retry in {retryAfter} seconds")
            .And.Contain(shedBy));
        Assert.That(shedAfter, Is.LessThan(TimeSpan.FromSeconds(30)), "shed, not left waiting behind the held check");
        Assert.That(status.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "status reports are under admission too");
        Assert.That(status.Headers.RetryAfter?.Delta?.TotalSeconds, Is.InRange(7, 14));
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "/health is outside admission");
        Assert.That(devices.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the admin API is outside admission");
        Assert.That(admitted.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the admitted check completes once the lock goes");
        Assert.That(metrics, Does.Match($@"ota_admission_calls_total\{{[^}}]*result=""{shedResult}""[^}}]*\}} 2\b"),
            "the check and the status report shed are counted by result");
        Assert.That(metrics, Does.Match(@"ota_admission_in_progress\{[^}]*\} 1\b"), "the held check is in progress");
        Assert.That(await new FleetData(_db).ScalarAsync<long>("select count(*) from devices where device_id = 'esp32_shed'"), Is.Zero,
            "a shed call changes nothing");
    }

    private static string Check(string id) => $"/api/firmware/check?device_id={id}&device_model=esp32&current_version=1.0.0";

    /// <summary>The held check is inside the service once its upsert waits for the test's lock.</summary>
    private async Task WaitUntilACheckWaitsOnTheLockAsync(Task<HttpResponseMessage> held)
    {
        var fleet = new FleetData(_db);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (await fleet.ScalarAsync<long>("select count(*) from pg_locks where not granted and relation = 'devices'::regclass") == 0)
        {
            if (held.IsCompleted)
            {
                Assert.Fail($"The check finished before it reached the lock: {(int)(await held).StatusCode}");
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("No check waited on the devices lock within 120 s.");
            }

            await Task.Delay(50);
        }
    }
}

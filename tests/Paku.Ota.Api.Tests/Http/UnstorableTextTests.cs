using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Dapper;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Http;

/// <summary>Text PostgreSQL cannot store (U+0000 as <c>%00</c> or <c>\u0000</c>, a lone surrogate as
/// <c>\ud800</c>) and JSON strings that are not UTF-8, wherever they enter: each is a 400 problem+json
/// naming the field, nothing changes, and a refused admin write is still audited.</summary>
[NonParallelizable]
public sealed class UnstorableTextTests
{
    private const string Form = "form";

    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    /// <summary>One hostile request: the method and URL, the JSON body (or <see cref="Form"/> for a valid
    /// upload form, or null), the field the problem must name, and whether it is an audited admin write.</summary>
    public sealed record Hostile(string Name, string Method, string Url, object? Body, string Field, bool AuditedWrite)
    {
        public override string ToString() => Name;
    }

    private const string Upload = "/api/admin/firmware/upload?version=2.0.0&device_model=esp32";
    private const string Create = "/api/admin/rollout/create";
    private const string GoodRollout = "\"firmware_version\":\"1.1.0\",\"device_model\":\"esp32\"";

    private static readonly byte[] InvalidUtf8Name = [.. "{\"name\":\"r"u8, 0xFF, 0xFE, .. "\",\"firmware_version\":\"1.1.0\",\"device_model\":\"esp32\",\"target_type\":\"all\"}"u8];
    private static readonly byte[] InvalidUtf8Status = [.. "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"failed\",\"progress_percent\":0,\"error_message\":\"x"u8, 0xC3, 0x28, .. "\"}"u8];

    private static readonly Hostile[] Cases =
    [
        // upload query fields (%00)
        new("NUL in the upload's version", "POST", "/api/admin/firmware/upload?version=2.0.0%00&device_model=esp32", Form, "version", true),
        new("NUL in the upload's device_model", "POST", "/api/admin/firmware/upload?version=2.0.0&device_model=esp%0032", Form, "device_model", true),
        new("NUL in the upload's min_version", "POST", $"{Upload}&min_version=1.0.0%00", Form, "min_version", true),
        new("NUL in release_notes", "POST", $"{Upload}&release_notes=Faster%00boot", Form, "release_notes", true),
        new("NUL in changelog", "POST", $"{Upload}&changelog=%00", Form, "changelog", true),
        new("NUL in a query parameter's name", "POST", $"{Upload}&x%00y=1", Form, "x\\u0000y", true),

        // rollout create
        new("NUL in a rollout name", "POST", Create, $"{{\"name\":\"r\\u0000x\",{GoodRollout},\"target_type\":\"all\"}}", "name", true),
        new("a lone surrogate in a rollout name", "POST", Create, $"{{\"name\":\"a\\ud800b\",{GoodRollout},\"target_type\":\"all\"}}", "name", true),
        new("a lone low surrogate in a rollout name", "POST", Create, $"{{\"name\":\"a\\udc00\",{GoodRollout},\"target_type\":\"all\"}}", "name", true),
        new("invalid UTF-8 in a rollout name", "POST", Create, InvalidUtf8Name, "name", true),
        new("a lone surrogate in a group filter", "POST", Create,
            $"{{\"name\":\"r2\",{GoodRollout},\"target_type\":\"group\",\"target_filter\":{{\"groups\":[\"ok\",\"g\\ud800\"]}}}}", "target_filter.groups", true),
        new("NUL in a group filter", "POST", Create,
            $"{{\"name\":\"r2\",{GoodRollout},\"target_type\":\"group\",\"target_filter\":{{\"groups\":[\"g\\u0000\"]}}}}", "target_filter.groups", true),
        new("a lone surrogate in a device filter", "POST", Create,
            $"{{\"name\":\"r2\",{GoodRollout},\"target_type\":\"specific\",\"target_filter\":{{\"device_ids\":[\"esp32_001\\udbff\"]}}}}", "target_filter.device_ids", true),
        new("NUL in a firmware_version", "POST", Create, $"{{\"name\":\"r2\",\"firmware_version\":\"1.1.0\\u0000\",\"device_model\":\"esp32\",\"target_type\":\"all\"}}", "firmware_version", true),
        new("a lone surrogate in a field name", "POST", Create, $"{{\"name\":\"r2\",{GoodRollout},\"target_type\":\"all\",\"x\\ud800\":1}}", "x\\ud800", true),

        // rollout change
        new("a lone surrogate as a PATCH property name", "PATCH", "/api/admin/rollout/r1", "{\"\\ud800\":50}", "\\ud800", true),
        new("NUL as a PATCH property name", "PATCH", "/api/admin/rollout/r1", "{\"rollout\\u0000percentage\":50}", "rollout\\u0000percentage", true),
        new("a lone surrogate in a PATCH group filter", "PATCH", "/api/admin/rollout/r1", "{\"target_filter\":{\"groups\":[\"\\ud800\"]}}", "target_filter.groups", true),

        // withdraw
        new("NUL in a withdraw reason", "POST", "/api/admin/firmware/releases/esp32/1.1.0/withdraw", "{\"reason\":\"bricks\\u0000devices\"}", "reason", true),
        new("a lone surrogate in a withdraw reason", "POST", "/api/admin/firmware/releases/esp32/1.1.0/withdraw", "{\"reason\":\"\\udfff\"}", "reason", true),

        // groups
        new("NUL in a device's group", "PUT", "/api/admin/devices/esp32_001/groups", "{\"groups\":[\"lab\\u0000\"]}", "groups", true),
        new("a lone surrogate in a device's group", "PUT", "/api/admin/devices/esp32_001/groups", "{\"groups\":[\"\\ud800\"]}", "groups", true),
        new("a lone surrogate in a bulk-group key", "PUT", "/api/admin/devices/groups", "{\"devices\":{\"esp32_001\\ud800\":[\"lab\"]}}", "devices.esp32_001\\ud800", true),
        new("NUL in a bulk-group value", "PUT", "/api/admin/devices/groups", "{\"devices\":{\"esp32_001\":[\"lab\\u0000\"]}}", "devices.esp32_001", true),

        // filters of the admin reads
        new("NUL in the device list's group filter", "GET", "/api/admin/devices?group=lab%00", null, "group", false),
        new("NUL in the device list's model filter", "GET", "/api/admin/devices?device_model=esp32%00", null, "device_model", false),
        new("NUL in the history's status filter", "GET", "/api/admin/update-status?status=%00", null, "status", false),
        new("NUL in the rollout list's model filter", "GET", "/api/admin/rollouts?device_model=%00", null, "device_model", false),
        new("NUL in the audit's action filter", "GET", "/api/admin/audit?action=rollout.create%00", null, "action", false),

        // device endpoints
        new("NUL in a status error_message", "POST", "/api/device/esp32_001/update-status",
            "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"failed\",\"progress_percent\":0,\"error_message\":\"flash\\u0000error\"}", "error_message", false),
        new("NUL in the check's device_id", "GET", "/api/firmware/check?device_id=esp32_001%00&device_model=esp32&current_version=1.0.0", null, "device_id", false),
        new("NUL in the check's current_version", "GET", "/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version=1.0.0%00", null, "current_version", false),
        new("NUL in the download's model", "GET", "/api/firmware/download/1.1.0?device_model=esp32%00", null, "device_model", false),
    ];

    private static readonly Hostile[] BadJson =
    [
        new("invalid UTF-8 in a status error_message", "POST", "/api/device/esp32_001/update-status", InvalidUtf8Status, "", false),
        new("a lone surrogate in a status error_message", "POST", "/api/device/esp32_001/update-status",
            "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"failed\",\"progress_percent\":0,\"error_message\":\"\\ud800\"}", "", false),
    ];

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_unstorable");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.0.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001", groups: "lab");
        using var admin = _factory.CreateAdminClient();
        var created = await admin.SendJsonAsync(HttpMethod.Post, Create, $"{{\"name\":\"r1\",{GoodRollout},\"target_type\":\"all\"}}");
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        await AdminFixtures.ExecuteAsync(_db, "delete from audit_log");
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Text_that_cannot_be_stored_is_refused_with_400_naming_the_field_and_changes_nothing(Hostile hostile)
    {
        var before = await FingerprintAsync();

        var response = await SendAsync(hostile);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, hostile.Field);
        Assert.That(await FingerprintAsync(), Is.EqualTo(before), "the database is unchanged");
        if (hostile.AuditedWrite)
        {
            var outcomes = await AuditOutcomesAsync();
            Assert.That(outcomes, Is.EqualTo(new[] { "refused (400)" }), "the refused write is audited once");
        }
    }

    [TestCaseSource(nameof(BadJson))]
    public async Task A_status_body_that_is_not_valid_text_is_refused_with_400_problem_json_and_changes_nothing(Hostile hostile)
    {
        var before = await FingerprintAsync();

        var response = await SendAsync(hostile);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest);
        Assert.That(await FingerprintAsync(), Is.EqualTo(before), "the database is unchanged");
    }

    private async Task<HttpResponseMessage> SendAsync(Hostile hostile)
    {
        using var client = _factory.CreateAdminClient();
        var request = new HttpRequestMessage(new HttpMethod(hostile.Method), hostile.Url);
        request.Content = hostile.Body switch
        {
            Form => FirmwareTestKit.Form(FirmwareTestKit.EspImage()),
            string json => new StringContent(json, Encoding.UTF8, "application/json"),
            byte[] bytes => new ByteArrayContent(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            _ => null,
        };
        return await client.SendAsync(request);
    }

    private Task<string> FingerprintAsync() => AdminFixtures.FingerprintAsync(_db);

    private async Task<IReadOnlyList<string>> AuditOutcomesAsync()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return [.. await connection.QueryAsync<string>("select outcome from audit_log order by id")];
    }
}

using System.Net;
using System.Text;
using Dapper;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Http;

/// <summary>A corpus of hostile values sent into every field of every endpoint that takes input, one
/// slot (endpoint + field) per test, every value of the corpus per slot. Whatever a value does, the
/// answer is never a 5xx; a refusal is problem+json, names the field when it is a 400, and leaves the
/// database as it was. Values that happen to be valid may be accepted: the contract is about
/// refusals, not about which values are refused. A 400 names a field (<c>errors</c>): the one that was
/// wrong, or <c>body</c> when the value made the document itself invalid JSON (NaN, too deep).</summary>
[NonParallelizable]
public sealed class BadInputCorpusTests
{
    private const string Value = "§";

    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private string _baseline = "";

    /// <summary>Where a hostile value goes: the method and URL, the JSON body with <see cref="Value"/>
    /// where the value is put (raw JSON for bodies, URL-encoded text for query and path), and the field
    /// it is put in (for the test's name and its findings).</summary>
    public sealed record Slot(string Name, string Method, string Url, string? Body, string Field, bool Json)
    {
        public override string ToString() => Name;
    }

    private const string Rollout = "\"name\":\"corpus\",\"firmware_version\":\"1.1.0\",\"device_model\":\"esp32\"";
    private const string Status = "\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\"";

    private static readonly Slot[] Slots =
    [
        // admin JSON bodies
        new("rollout create: name", "POST", "/api/admin/rollout/create", $"{{\"name\":{Value},\"firmware_version\":\"1.1.0\",\"device_model\":\"esp32\",\"target_type\":\"all\"}}", "name", true),
        new("rollout create: firmware_version", "POST", "/api/admin/rollout/create", $"{{\"name\":\"corpus\",\"firmware_version\":{Value},\"device_model\":\"esp32\",\"target_type\":\"all\"}}", "firmware_version", true),
        new("rollout create: device_model", "POST", "/api/admin/rollout/create", $"{{\"name\":\"corpus\",\"firmware_version\":\"1.1.0\",\"device_model\":{Value},\"target_type\":\"all\"}}", "device_model", true),
        new("rollout create: target_type", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":{Value}}}", "target_type", true),
        new("rollout create: rollout_percentage", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"canary\",\"rollout_percentage\":{Value}}}", "rollout_percentage", true),
        new("rollout create: is_active", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"is_active\":{Value}}}", "is_active", true),
        new("rollout create: a group", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"group\",\"target_filter\":{{\"groups\":[{Value}]}}}}", "target_filter", true),
        new("rollout create: a device id", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"specific\",\"target_filter\":{{\"device_ids\":[{Value}]}}}}", "target_filter", true),
        new("rollout create: target_filter", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"group\",\"target_filter\":{Value}}}", "target_filter", true),
        new("rollout create: failure_threshold", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"failure_threshold\":{{\"percent\":{Value}}}}}", "failure_threshold", true),
        new("rollout create: phases", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"canary\",\"phases\":{Value}}}", "phases", true),
        new("rollout create: a phase", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"canary\",\"phases\":[{Value}]}}", "phases", true),
        new("rollout create: a phase's percentage", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"canary\",\"phases\":[{{\"percentage\":{Value}}}]}}", "phases", true),
        new("rollout create: a phase's gate", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"canary\",\"phases\":[{{\"percentage\":10,\"min_confirmed\":{Value},\"max_failure_percent\":{Value}}}]}}", "phases", true),
        new("rollout create: a phase's group", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"group\",\"phases\":[{{\"groups\":[{Value}]}}]}}", "phases", true),
        new("rollout change: phases", "PATCH", "/api/admin/rollout/r1", $"{{\"phases\":{Value}}}", "phases", true),
        new("rollout change: a phase's soak", "PATCH", "/api/admin/rollout/r1", $"{{\"phases\":[{{\"percentage\":100,\"min_soak_seconds\":{Value}}}]}}", "phases", true),
        new("rollout create: windows", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"windows\":{Value}}}", "windows", true),
        new("rollout create: a window", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"windows\":[{Value}]}}", "windows", true),
        new("rollout create: a window's start", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"windows\":[{{\"start\":{Value},\"end\":\"04:00\"}}]}}", "windows", true),
        new("rollout create: a window's days", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"windows\":[{{\"start\":\"22:00\",\"end\":\"04:00\",\"days\":[{Value}]}}]}}", "windows", true),
        new("rollout create: a window's time_zone", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"windows\":[{{\"start\":\"22:00\",\"end\":\"04:00\",\"time_zone\":{Value}}}]}}", "windows", true),
        new("rollout create: pace", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"pace\":{Value}}}", "pace", true),
        new("rollout create: pace.per_minute", "POST", "/api/admin/rollout/create", $"{{{Rollout},\"target_type\":\"all\",\"pace\":{{\"per_minute\":{Value}}}}}", "pace", true),
        new("rollout change: windows", "PATCH", "/api/admin/rollout/r1", $"{{\"windows\":{Value}}}", "windows", true),
        new("rollout change: pace.max_in_flight", "PATCH", "/api/admin/rollout/r1", $"{{\"pace\":{{\"max_in_flight\":{Value}}}}}", "pace", true),
        new("rollout change: rollout_percentage", "PATCH", "/api/admin/rollout/r1", $"{{\"rollout_percentage\":{Value}}}", "rollout_percentage", true),
        new("rollout change: is_active", "PATCH", "/api/admin/rollout/r1", $"{{\"is_active\":{Value}}}", "is_active", true),
        new("rollout change: a group", "PATCH", "/api/admin/rollout/r1", $"{{\"target_filter\":{{\"groups\":[{Value}]}}}}", "target_filter", true),
        new("release withdraw: reason", "POST", "/api/admin/firmware/releases/esp32/1.1.0/withdraw", $"{{\"reason\":{Value}}}", "reason", true),
        new("device groups: a group", "PUT", "/api/admin/devices/esp32_001/groups", $"{{\"groups\":[{Value}]}}", "groups", true),
        new("device groups: groups", "PUT", "/api/admin/devices/esp32_001/groups", $"{{\"groups\":{Value}}}", "groups", true),
        new("bulk groups: a device's groups", "PUT", "/api/admin/devices/groups", $"{{\"devices\":{{\"esp32_001\":{Value}}}}}", "devices", true),

        // the device's status report
        new("status: device_id", "POST", "/api/device/esp32_001/update-status", $"{{\"device_id\":{Value},\"firmware_version\":\"1.1.0\",\"status\":\"downloading\",\"progress_percent\":0}}", "device_id", true),
        new("status: firmware_version", "POST", "/api/device/esp32_001/update-status", $"{{\"device_id\":\"esp32_001\",\"firmware_version\":{Value},\"status\":\"downloading\",\"progress_percent\":0}}", "firmware_version", true),
        new("status: status", "POST", "/api/device/esp32_001/update-status", $"{{{Status},\"status\":{Value},\"progress_percent\":0}}", "status", true),
        new("status: progress_percent", "POST", "/api/device/esp32_001/update-status", $"{{{Status},\"status\":\"downloading\",\"progress_percent\":{Value}}}", "progress_percent", true),
        new("status: error_message", "POST", "/api/device/esp32_001/update-status", $"{{{Status},\"status\":\"failed\",\"progress_percent\":0,\"error_message\":{Value}}}", "error_message", true),

        // query strings and paths
        new("check: device_id", "GET", $"/api/firmware/check?device_id={Value}&device_model=esp32&current_version=1.0.0", null, "device_id", false),
        new("check: device_model", "GET", $"/api/firmware/check?device_id=esp32_001&device_model={Value}&current_version=1.0.0", null, "device_model", false),
        new("check: current_version", "GET", $"/api/firmware/check?device_id=esp32_001&device_model=esp32&current_version={Value}", null, "current_version", false),
        new("download: version", "GET", $"/api/firmware/download/{Value}?device_model=esp32", null, "version", false),
        new("download: device_model", "GET", $"/api/firmware/download/1.1.0?device_model={Value}", null, "device_model", false),
        new("status: the device id in the path", "POST", $"/api/device/{Value}/update-status", "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"downloading\",\"progress_percent\":0}", "device_id", false),
        new("devices: limit", "GET", $"/api/admin/devices?limit={Value}", null, "limit", false),
        new("devices: group", "GET", $"/api/admin/devices?group={Value}", null, "group", false),
        new("device: id in the path", "GET", $"/api/admin/devices/{Value}", null, "device_id", false),
        new("explain: id in the path", "GET", $"/api/admin/devices/{Value}/explain", null, "device_id", false),
        new("history: limit", "GET", $"/api/admin/update-status?limit={Value}", null, "limit", false),
        new("history: device_id", "GET", $"/api/admin/update-status?device_id={Value}", null, "device_id", false),
        new("releases: limit", "GET", $"/api/admin/firmware/releases?limit={Value}", null, "limit", false),
        new("releases: device_model", "GET", $"/api/admin/firmware/releases?device_model={Value}", null, "device_model", false),
        new("audit: limit", "GET", $"/api/admin/audit?limit={Value}", null, "limit", false),
        new("rollout events: limit", "GET", $"/api/admin/rollout-events?limit={Value}", null, "limit", false),
        new("rollout events: before_id", "GET", $"/api/admin/rollout-events?before_id={Value}", null, "before_id", false),
        new("rollout events: rollout", "GET", $"/api/admin/rollout-events?rollout={Value}", null, "rollout", false),
        new("rollout events: kind", "GET", $"/api/admin/rollout-events?kind={Value}", null, "kind", false),
        new("rollout events: delivery_state", "GET", $"/api/admin/rollout-events?delivery_state={Value}", null, "delivery_state", false),
        new("rollout: name in the path", "GET", $"/api/admin/rollout/{Value}", null, "name", false),
        new("rollout advance: name in the path", "POST", $"/api/admin/rollout/{Value}/advance", null, "name", false),
        new("rollout hold: name in the path", "PUT", $"/api/admin/rollout/{Value}/hold", null, "name", false),
        new("upload: version", "POST", $"/api/admin/firmware/upload?version={Value}&device_model=esp32", "form", "version", false),
        new("upload: device_model", "POST", $"/api/admin/firmware/upload?version=2.0.0&device_model={Value}", "form", "device_model", false),
        new("upload: is_signed", "POST", $"/api/admin/firmware/upload?version=2.0.0&device_model=esp32&is_signed={Value}", "form", "is_signed", false),
    ];

    /// <summary>Raw JSON values: text PostgreSQL cannot store, wrong types, huge and odd numbers, nesting,
    /// overlong text, escapes, path tricks, markup and SQL.</summary>
    private static readonly string[] JsonValues =
    [
        "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"x\\udfffy\"", "\"\\ud83d\"", "\"\\uffff\"", "\"\\u202e\"",
        "null", "true", "false", "0", "-1", "1.5", "1e400", "-1e400", "9223372036854775808", "-9223372036854775809",
        "1e-400", "100", "101", "NaN", "Infinity", "\"\"", "\" \"", "\"\\t\\n\"", "[]", "[null]", "[1,2]", "{}",
        "{\"a\":{\"b\":{\"c\":[[[[[[1]]]]]]}}}", "\"" + new string('x', 300) + "\"", "\"" + new string('é', 5000) + "\"",
        "\"../../etc/passwd\"", "\"..\\\\..\\\\boot.ini\"", "\"%00\"", "\"%2e%2e%2f\"", "\"<script>alert(1)</script>\"",
        "\"' or 1=1 --\"", "\"\\\"; drop table devices; --\"", "\"ESP32\"", "\"esp32\"", "\"1.1.0\"", "\"v99999999999999999999.0.0\"",
        "\"1.0.0-\"", "\"failed\"", "\"success\"", "\"specific\"", "\"all\"", "\"\\u00e9\\u0301\"", "\"💾\"",
    ];

    /// <summary>Raw query/path text (already URL-encoded where it must be).</summary>
    private static readonly string[] UrlValues =
    [
        "%00", "a%00b", "%ED%A0%80", "%C3%28", "%FF%FE", "%E2%80%AE", "", "%20", "-1", "0", "1.5", "1e400",
        "99999999999999999999", "abc", "true", "%2e%2e%2f%2e%2e%2f", "..%2F..%2Fetc%2Fpasswd", "%252e%252e",
        "%3Cscript%3E", "%27%20or%201%3D1--", new string('x', 300), new string('9', 400), "ESP32", "esp32_001",
        "1.1.0", "v1.1.0", "1.0.0-", "%F0%9F%92%BE", "a%2Fb", "a%5Cb", "%0D%0ASet-Cookie:x", "%25", "+",
    ];

    public static IEnumerable<Slot> AllSlots() => Slots;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_corpus");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset() => _baseline = await SeedAsync();

    [TestCaseSource(nameof(AllSlots))]
    public async Task No_hostile_value_gets_a_5xx_and_every_refusal_is_a_problem_that_changes_nothing(Slot slot)
    {
        // %00 in a path never reaches the application: the server refuses such a path itself (and the
        // in-memory test server cannot even send one), so path slots get the rest of the corpus.
        var inPath = !slot.Json && slot.Url.IndexOf(Value, StringComparison.Ordinal) < slot.Url.IndexOf('?', StringComparison.Ordinal) ||
                     !slot.Json && !slot.Url.Contains('?', StringComparison.Ordinal);
        var values = slot.Json ? JsonValues : UrlValues.Where(v => !inPath || !v.Contains("%00", StringComparison.Ordinal)).ToArray();
        var findings = new List<string>();
        foreach (var value in values)
        {
            var response = await SendAsync(slot, value);
            var text = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            var shown = value.Length > 40 ? value[..40] + "…" : value;
            if (status >= 500)
            {
                findings.Add($"{shown}: {status} {text}");
            }
            else if (status >= 400)
            {
                if (response.Content.Headers.ContentType?.MediaType != "application/problem+json" && response.Content.Headers.ContentLength != 0 && response.RequestMessage?.Method != HttpMethod.Head)
                {
                    findings.Add($"{shown}: {status} is not problem+json: {text}");
                }

                // a 400 names what was wrong: the field, or "body" when the document is not JSON at all
                if (status == 400 && !NamesAField(text))
                {
                    findings.Add($"{shown}: 400 names no field: {text}");
                }

                if (await FingerprintAsync() != _baseline)
                {
                    findings.Add($"{shown}: refused with {status} but the database changed");
                }
            }

            if (status < 400 && await FingerprintAsync() != _baseline)
            {
                _baseline = await SeedAsync(); // an accepted write: start the next value from the seed again
            }
        }

        Assert.That(findings, Is.Empty, string.Join("\n", findings));
    }

    /// <summary>Hostile requests that are not one field's value: duplicate JSON keys, Range headers,
    /// multipart bodies, content types.</summary>
    public sealed record Request(string Name, Func<HttpRequestMessage> Make)
    {
        public override string ToString() => Name;
    }

    private const string Download = "/api/firmware/download/1.1.0?device_model=esp32";

    private static HttpRequestMessage Ranged(string range)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Download);
        request.Headers.TryAddWithoutValidation("Range", range);
        return request;
    }

    private static HttpRequestMessage Json(string method, string url, string json) =>
        new(new HttpMethod(method), url) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private static HttpRequestMessage Upload(HttpContent content) =>
        new(HttpMethod.Post, "/api/admin/firmware/upload?version=2.0.0&device_model=esp32") { Content = content };

    private static HttpContent RawMultipart(string contentType, string body)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    private static readonly Request[] Requests =
    [
        new("duplicate name keys in a rollout", () => Json("POST", "/api/admin/rollout/create",
            "{\"name\":\"a\",\"name\":\"b\",\"firmware_version\":\"1.1.0\",\"device_model\":\"esp32\",\"target_type\":\"all\"}")),
        new("duplicate status keys in a report", () => Json("POST", "/api/device/esp32_001/update-status",
            "{\"device_id\":\"esp32_001\",\"firmware_version\":\"1.1.0\",\"status\":\"downloading\",\"status\":\"failed\",\"progress_percent\":0}")),
        new("duplicate percentage keys in a PATCH", () => Json("PATCH", "/api/admin/rollout/r1", "{\"rollout_percentage\":10,\"rollout_percentage\":500}")),
        new("a JSON array as the body", () => Json("POST", "/api/admin/rollout/create", "[]")),
        new("an empty body", () => Json("POST", "/api/admin/rollout/create", "")),
        new("a body that is not JSON", () => Json("POST", "/api/device/esp32_001/update-status", "status=failed")),
        new("JSON sent as text/plain", () => new HttpRequestMessage(HttpMethod.Post, "/api/admin/rollout/create")
        {
            Content = new StringContent("{\"name\":\"a\"}", Encoding.UTF8, "text/plain"),
        }),
        new("a Range past the end", () => Ranged("bytes=99999999-")),
        new("a Range beyond 64 bits", () => Ranged("bytes=18446744073709551616-")),
        new("a reversed Range", () => Ranged("bytes=5-1")),
        new("a suffix Range of zero", () => Ranged("bytes=-0")),
        new("a Range of many parts", () => Ranged("bytes=" + string.Join(",", Enumerable.Range(0, 500).Select(i => $"{i}-{i}")))),
        new("a Range that is not a number", () => Ranged("bytes=abc-def")),
        new("a Range in another unit", () => Ranged("items=0-1")),
        new("a Range with a NUL", () => Ranged("bytes=0-\u0001")),
        new("a multipart without a boundary", () => Upload(RawMultipart("multipart/form-data", "--x\r\n\r\n"))),
        new("a multipart cut before its end", () => Upload(RawMultipart("multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n\u00e9abc"))),
        new("a multipart with a header line of 100 KB", () => Upload(RawMultipart("multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + new string('x', 100_000) + "\"\r\n\r\nabc\r\n--b--\r\n"))),
        new("a multipart with two file parts", () =>
        {
            var form = FirmwareTestKit.Form(FirmwareTestKit.EspImage());
            form.Add(new ByteArrayContent(FirmwareTestKit.EspImage(seed: 2)), "file", "other.bin");
            return Upload(form);
        }),
        new("a multipart whose file part has no name", () => Upload(RawMultipart("multipart/form-data; boundary=b",
            "--b\r\nContent-Disposition: form-data; filename=\"f.bin\"\r\n\r\n\u00e9abc\r\n--b--\r\n"))),
        new("an upload that is not multipart", () => Upload(new ByteArrayContent(FirmwareTestKit.EspImage()))),
        new("an empty file part", () => Upload(FirmwareTestKit.Form([]))),
    ];

    public static IEnumerable<Request> AllRequests() => Requests;

    [TestCaseSource(nameof(AllRequests))]
    public async Task A_hostile_request_shape_gets_no_5xx_and_a_refusal_changes_nothing(Request hostile)
    {
        using var client = _factory.CreateAdminClient();

        var response = await client.SendAsync(hostile.Make());
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.LessThan(500), text);
        if ((int)response.StatusCode >= 400)
        {
            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
            Assert.That(await FingerprintAsync(), Is.EqualTo(_baseline), "a refusal changes nothing");
        }
    }

    private static bool NamesAField(string problem)
    {
        using var document = System.Text.Json.JsonDocument.Parse(problem);
        return document.RootElement.TryGetProperty("errors", out var errors) &&
               errors.ValueKind == System.Text.Json.JsonValueKind.Object && errors.EnumerateObject().Any(e => e.Name.Length > 0);
    }

    private async Task<HttpResponseMessage> SendAsync(Slot slot, string value)
    {
        using var client = _factory.CreateAdminClient();
        var url = slot.Json ? slot.Url : slot.Url.Replace(Value, value, StringComparison.Ordinal);
        var request = new HttpRequestMessage(new HttpMethod(slot.Method), url);
        request.Content = slot.Body switch
        {
            null => null,
            "form" => FirmwareTestKit.Form(FirmwareTestKit.EspImage()),
            var body => new StringContent(slot.Json ? body.Replace(Value, value, StringComparison.Ordinal) : body, Encoding.UTF8, "application/json"),
        };
        return await client.SendAsync(request);
    }

    /// <summary>A release line, one device with a group, one rollout; returns the fingerprint.</summary>
    private async Task<string> SeedAsync()
    {
        await AdminFixtures.ResetAsync(_db, _factory);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.0.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001", groups: "lab");
        await AdminFixtures.ExecuteAsync(_db, """
            insert into rollouts (name, release_id, firmware_version, device_model, target_type)
            select 'r1', id, version, device_model, 'all' from firmware_releases where version = '1.1.0'
            """);
        _factory.RefreshCatalog();
        return await FingerprintAsync();
    }

    private Task<string> FingerprintAsync() => AdminFixtures.FingerprintAsync(_db);
}

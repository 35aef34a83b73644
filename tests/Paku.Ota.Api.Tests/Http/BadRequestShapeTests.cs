using System.Net;
using System.Net.Http.Headers;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Http;

/// <summary>Requests the framework itself cannot bind are answered with a problem naming the field, not a
/// bare {"title":"Bad Request"}; and a Range in a unit other than bytes is ignored (200, the whole image).</summary>
[NonParallelizable]
public sealed class BadRequestShapeTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_bad_shapes");

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
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_001");
        _factory.RefreshCatalog();
    }

    [TestCase("progress_percent", "\"ten\"")]
    [TestCase("progress_percent", "1e400")]
    [TestCase("progress_percent", "10.5")]
    [TestCase("status", "42")]
    [TestCase("error_message", "[\"x\"]")]
    [TestCase("firmware_version", "{}")]
    public async Task A_status_field_of_the_wrong_JSON_type_is_400_naming_it(string name, string value)
    {
        using var client = _factory.CreateClient();
        var fields = new Dictionary<string, string>
        {
            ["device_id"] = "\"esp32_001\"",
            ["firmware_version"] = "\"1.1.0\"",
            ["status"] = "\"downloading\"",
            ["progress_percent"] = "5",
            [name] = value,
        };
        var body = "{" + string.Join(",", fields.Select(f => $"\"{f.Key}\":{f.Value}")) + "}";

        var response = await client.SendJsonAsync(HttpMethod.Post, "/api/device/esp32_001/update-status", body);

        await response.AssertProblemAsync(HttpStatusCode.BadRequest, name);
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from device_update_status"), Is.Zero);
    }

    [TestCase("limit=abc", "limit", "limit must be a whole number, not 'abc'.")]
    [TestCase("before_id=x", "before_id", "before_id must be a whole number, not 'x'.")]
    public async Task An_audit_query_that_is_no_number_is_400_naming_it(string query, string field, string message)
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.GetAsync($"/api/admin/audit?{query}");

        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, field);
        Assert.That(problem.GetProperty("detail").GetString(), Is.EqualTo(message));
    }

    [TestCase("items=0-1")]
    [TestCase("pages=0-0")]
    public async Task A_range_in_a_unit_other_than_bytes_is_ignored_and_the_whole_image_sent(string range)
    {
        using var client = _factory.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/firmware/download/1.1.0?device_model=esp32");
        request.Headers.TryAddWithoutValidation("Range", range);

        var response = await client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentRange, Is.Null);
        Assert.That((await response.Content.ReadAsByteArrayAsync()).Length, Is.EqualTo(response.Content.Headers.ContentLength));
    }

    [Test]
    public async Task A_byte_range_is_still_served_as_206()
    {
        using var client = _factory.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/firmware/download/1.1.0?device_model=esp32");
        request.Headers.Range = new RangeHeaderValue(0, 1);

        var response = await client.SendAsync(request);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.PartialContent));
        Assert.That((await response.Content.ReadAsByteArrayAsync()).Length, Is.EqualTo(2));
    }
}

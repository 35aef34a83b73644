using System.Net;
using System.Text;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>The audit records refused admin writes too, however early they were refused: without a key
/// (401, no key name), with a read key (403, its name), with a body over the limit (413), and by the use
/// case (422), each with the reason it was given.</summary>
[NonParallelizable]
public sealed class RefusedWriteAuditTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await AdminFixtures.StartAsync("paku_test_refused_audit");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public Task Reset() => AdminFixtures.ResetAsync(_db, _factory);

    [Test]
    public async Task A_write_without_a_key_is_audited_as_refused_401_without_a_key_name()
    {
        using var anonymous = _factory.CreateClient();

        var response = await anonymous.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", "{}");

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
        var entry = await SingleEntryAsync();
        Assert.That(entry.GetProperty("actor").GetString(), Is.EqualTo("unauthenticated"));
        Assert.That(entry.GetProperty("action").GetString(), Is.EqualTo("rollout.create"));
        Assert.That(entry.GetProperty("outcome").GetString(), Is.EqualTo("refused (401)"));
        Assert.That(entry.GetProperty("details").GetProperty("detail").GetString(), Does.Contain("needs an admin API key"));
    }

    [Test]
    public async Task A_write_with_an_unknown_key_is_audited_as_refused_401_with_the_reason()
    {
        using var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", "not-a-key");

        var response = await client.PutAsync("/api/admin/devices/esp32_001/groups", new StringContent("{\"groups\":[]}", Encoding.UTF8, "application/json"));

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized);
        var entry = await SingleEntryAsync();
        Assert.That(entry.GetProperty("actor").GetString(), Is.EqualTo("unauthenticated"));
        Assert.That(entry.GetProperty("target").GetString(), Is.EqualTo("esp32_001"));
        Assert.That(entry.GetProperty("details").GetProperty("detail").GetString(), Does.Contain("not a known key"));
    }

    [Test]
    public async Task A_write_with_a_read_key_is_audited_as_refused_403_with_the_key_name()
    {
        using var reader = _factory.CreateAdminClient(write: false);

        var response = await reader.PostAsync("/api/admin/firmware/releases/esp32/1.0.0/withdraw", null);

        await response.AssertProblemAsync(HttpStatusCode.Forbidden);
        var entry = await SingleEntryAsync();
        Assert.That(entry.GetProperty("actor").GetString(), Is.EqualTo("test-reader"));
        Assert.That(entry.GetProperty("outcome").GetString(), Is.EqualTo("refused (403)"));
        Assert.That(entry.GetProperty("target").GetString(), Is.EqualTo("esp32/1.0.0"));
    }

    [Test]
    public async Task A_body_over_the_limit_is_audited_as_refused_413()
    {
        using var admin = _factory.CreateAdminClient();
        var huge = $"{{\"name\":\"{new string('x', 3 * 1024 * 1024)}\"}}";

        var response = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", huge);

        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        var entry = await SingleEntryAsync();
        Assert.That(entry.GetProperty("actor").GetString(), Is.EqualTo("test-writer"));
        Assert.That(entry.GetProperty("outcome").GetString(), Is.EqualTo("refused (413)"));
        Assert.That(entry.GetProperty("details").GetProperty("detail").GetString(), Does.Contain("larger than"));
    }

    [Test]
    public async Task A_write_the_use_case_refuses_is_audited_as_refused_422_with_the_reason()
    {
        using var admin = _factory.CreateAdminClient();

        var response = await admin.UploadAsync("version=1.0.0&device_model=esp32&is_signed=true", FirmwareTestKit.EspImage());

        await response.AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "signature");
        var entry = await SingleEntryAsync();
        Assert.That(entry.GetProperty("outcome").GetString(), Is.EqualTo("refused (422)"));
        Assert.That(entry.GetProperty("details").GetProperty("detail").GetString(), Does.Contain("no signature was sent"));
    }

    private async Task<JsonElement> SingleEntryAsync()
    {
        using var reader = _factory.CreateAdminClient(write: false);
        var audit = await (await reader.GetAsync("/api/admin/audit")).JsonAsync();
        var entries = audit.GetProperty("entries");
        Assert.That(entries.GetArrayLength(), Is.EqualTo(1), audit.ToString());
        return entries[0];
    }
}

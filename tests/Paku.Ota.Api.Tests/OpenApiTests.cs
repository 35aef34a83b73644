using System.Net;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

public sealed class OpenApiTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await ApiFactory.StartAsync("paku_test_api");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public async Task The_service_describes_device_and_admin_apis_with_their_security_schemes()
    {
        using var client = _factory.CreateClient();

        var response = await client.GetAsync("/openapi/v1.json");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        var paths = root.GetProperty("paths");
        var schemes = root.GetProperty("components").GetProperty("securitySchemes");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(paths.TryGetProperty("/api/firmware/check", out _), Is.True);
        Assert.That(paths.TryGetProperty("/api/device/{device_id}/update-status", out _), Is.True);
        Assert.That(schemes.GetProperty("ApiKey").GetProperty("type").GetString(), Is.EqualTo("apiKey"));
        Assert.That(schemes.GetProperty("ApiKey").GetProperty("name").GetString(), Is.EqualTo("X-API-Key"));
        Assert.That(schemes.GetProperty("ApiKey").GetProperty("in").GetString(), Is.EqualTo("header"));

        var adminOperations = paths.EnumerateObject().Where(p => p.Name.StartsWith("/api/admin", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject()).ToList();
        Assert.That(adminOperations, Is.Not.Empty);
        foreach (var operation in adminOperations)
        {
            var security = operation.Value.GetProperty("security");
            Assert.That(security[0].TryGetProperty("ApiKey", out _), Is.True, $"{operation.Name} declares the API key");
        }
    }

    [Test]
    public async Task The_rollout_answers_show_their_state_health_and_deadlines_and_the_rollback_action_is_described()
    {
        using var client = _factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var root = document.RootElement;
        var rollback = root.GetProperty("paths").GetProperty("/api/admin/rollout/{name}/rollback").GetProperty("post");
        var created = rollback.GetProperty("responses").GetProperty("201").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        var view = Resolve(root, created);
        var progress = Resolve(root, view.GetProperty("properties").GetProperty("progress"));

        Assert.That(rollback.GetProperty("responses").TryGetProperty("409", out _), Is.True);
        Assert.That(view.GetProperty("properties").TryGetProperty("state", out _), Is.True);
        Assert.That(view.GetProperty("properties").TryGetProperty("attempt_deadline", out _), Is.True);
        Assert.That(progress.GetProperty("properties").TryGetProperty("timed_out", out _), Is.True);
    }

    [Test]
    public async Task The_phase_plan_is_described_in_the_create_and_change_requests_and_the_rollout_answer()
    {
        using var client = _factory.CreateClient();

        using var document = JsonDocument.Parse(await client.GetStringAsync("/openapi/v1.json"));
        var root = document.RootElement;
        var paths = root.GetProperty("paths");
        JsonElement RequestOf(string path, string method) =>
            Resolve(root, paths.GetProperty(path).GetProperty(method).GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        var create = RequestOf("/api/admin/rollout/create", "post");
        var change = RequestOf("/api/admin/rollout/{name}", "patch");
        var phase = Resolve(root, create.GetProperty("properties").GetProperty("phases").GetProperty("items"));
        var advance = paths.GetProperty("/api/admin/rollout/{name}/advance").GetProperty("post");
        var view = Resolve(root, advance.GetProperty("responses").GetProperty("200").GetProperty("content").GetProperty("application/json").GetProperty("schema"));
        var shown = Resolve(root, view.GetProperty("properties").GetProperty("phase"));

        Assert.That(phase.GetProperty("properties").EnumerateObject().Select(p => p.Name),
            Is.EquivalentTo(new[] { "percentage", "groups", "min_confirmed", "max_failure_percent", "min_soak_seconds" }));
        Assert.That(change.GetProperty("properties").TryGetProperty("phases", out _), Is.True);
        Assert.That(create.GetProperty("properties").TryGetProperty("rollout_percentage", out _), Is.True);
        Assert.That(advance.GetProperty("responses").TryGetProperty("409", out _), Is.True);
        Assert.That(paths.GetProperty("/api/admin/rollout/{name}/hold").TryGetProperty("put", out _), Is.True);
        Assert.That(paths.GetProperty("/api/admin/rollout/{name}/hold").TryGetProperty("delete", out _), Is.True);
        Assert.That(shown.GetProperty("properties").TryGetProperty("gates", out _), Is.True);
        Assert.That(shown.GetProperty("properties").TryGetProperty("plan", out _), Is.False, "the plan is shown once, as phases");
        Assert.That(view.GetProperty("properties").TryGetProperty("phases", out _), Is.True);
    }

    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        // a nullable object is described as oneOf null or the object
        if (schema.TryGetProperty("oneOf", out var either))
        {
            schema = either.EnumerateArray().Single(s => s.TryGetProperty("$ref", out _));
        }

        if (!schema.TryGetProperty("$ref", out var reference))
        {
            return schema;
        }

        var name = reference.GetString()!.Split('/')[^1];
        return root.GetProperty("components").GetProperty("schemas").GetProperty(name);
    }
}

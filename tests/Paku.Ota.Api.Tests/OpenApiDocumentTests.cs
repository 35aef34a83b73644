using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Paku.Ota.Api.Http;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

/// <summary>The OpenAPI document is what clients are generated from, so every route of the app must be in
/// it with what a generator needs: the request body's schema and an example, the success answer's schema,
/// and its problem+json refusals. The routes are taken from the app itself (its EndpointDataSource), so
/// a route added later without these fails here.</summary>
public sealed class OpenApiDocumentTests
{
    private static readonly string[] BodyMethods = ["POST", "PUT", "PATCH"];

    // only these may stay out of the document: the console's pages (HTML), the metrics scrape and the document itself
    private static readonly string[] UndescribedPrefixes = ["console", "metrics", "openapi"];

    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;
    private string _json = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_openapi");
        using var client = _factory.CreateClient();
        _json = await client.GetStringAsync("/openapi/v1.json");
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Test]
    public void The_document_is_valid_OpenAPI()
    {
        var read = OpenApiDocument.Parse(_json, "json");
        var errors = read.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}").ToList() ?? [];
        var invalid = read.Document is null ? [] : read.Document.Validate(Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet())?
            .Select(e => $"{e.Pointer}: {e.Message}").ToList() ?? [];

        Assert.That(read.Document, Is.Not.Null);
        Assert.That(errors, Is.Empty, "errors reading the document");
        Assert.That(invalid, Is.Empty, "OpenAPI validation rules");
        Assert.That(read.Document!.Paths, Has.Count.GreaterThan(15));
    }

    [Test]
    public void Every_route_of_the_app_is_described_with_its_body_answers_and_problems()
    {
        using var document = JsonDocument.Parse(_json);
        var root = document.RootElement;
        var paths = root.GetProperty("paths");
        var gaps = new List<string>();
        var described = 0;

        foreach (var endpoint in _factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var route = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            if (endpoint.Metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true })
            {
                if (!UndescribedPrefixes.Any(p => route.StartsWith("/" + p, StringComparison.Ordinal)))
                {
                    gaps.Add($"{route} is excluded from the document; only the console, /metrics and /openapi may be");
                }

                continue;
            }

            foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [])
            {
                var name = $"{method} {route}";
                if (!paths.TryGetProperty(route, out var item) || !item.TryGetProperty(method.ToLowerInvariant(), out var operation))
                {
                    gaps.Add($"{name} is not in the document");
                    continue;
                }

                described++;
                gaps.AddRange(RequestGaps(root, name, endpoint, method, operation));
                gaps.AddRange(ResponseGaps(root, name, route, operation));
            }
        }

        Assert.That(gaps, Is.Empty);
        Assert.That(described, Is.GreaterThan(20), "routes checked");
    }

    [Test]
    public void The_rollout_create_body_shows_the_target_filter_with_device_ids_and_groups()
    {
        using var document = JsonDocument.Parse(_json);
        var root = document.RootElement;
        var body = root.GetProperty("paths").GetProperty("/api/admin/rollout/create").GetProperty("post")
            .GetProperty("requestBody").GetProperty("content").GetProperty("application/json");
        var schema = Resolve(root, body.GetProperty("schema"));
        var filter = Resolve(root, schema.GetProperty("properties").GetProperty("target_filter"));

        Assert.That(schema.GetProperty("properties").EnumerateObject().Select(p => p.Name),
            Is.SupersetOf(new[] { "name", "firmware_version", "device_model", "target_type", "rollout_percentage", "failure_threshold", "attempt_deadline" }));
        Assert.That(filter.GetProperty("properties").EnumerateObject().Select(p => p.Name), Is.EquivalentTo(new[] { "device_ids", "groups" }));
        Assert.That(body.GetProperty("example").GetProperty("target_type").GetString(), Is.EqualTo("canary"));
        Assert.That(schema.GetProperty("required").EnumerateArray().Select(r => r.GetString()),
            Is.EquivalentTo(new[] { "name", "firmware_version", "device_model", "target_type" }), "only these must be sent");
        Assert.That(filter.TryGetProperty("required", out _), Is.False, "either list may be left out");
    }

    private static IEnumerable<string> RequestGaps(JsonElement root, string name, Endpoint endpoint, string method, JsonElement operation)
    {
        var hasBody = operation.TryGetProperty("requestBody", out var body);
        if (!BodyMethods.Contains(method) || endpoint.Metadata.GetMetadata<ApiDescription.NoRequestBody>() is not null)
        {
            if (hasBody)
            {
                yield return $"{name} declares a request body it does not read";
            }

            yield break;
        }

        if (!hasBody || !body.TryGetProperty("content", out var content) || !content.EnumerateObject().Any())
        {
            yield return $"{name} has no request body schema (.Reads<TBody>(example), or .ReadsNoBody())";
            yield break;
        }

        foreach (var media in content.EnumerateObject())
        {
            if (!media.Value.TryGetProperty("schema", out var schema) || Resolve(root, schema).EnumerateObject().All(p => p.Name is "description"))
            {
                yield return $"{name}: request {media.Name} has no schema";
            }

            if (media.Name == "application/json" && !media.Value.TryGetProperty("example", out _))
            {
                yield return $"{name}: request {media.Name} has no example";
            }
            else if (media.Value.TryGetProperty("example", out var example) && schema.ValueKind == JsonValueKind.Object)
            {
                // the example may use only the fields the schema (and so the parser) knows
                var known = Resolve(root, schema).TryGetProperty("properties", out var properties)
                    ? properties.EnumerateObject().Select(p => p.Name).ToHashSet()
                    : [];
                foreach (var field in example.EnumerateObject().Where(f => !known.Contains(f.Name)))
                {
                    yield return $"{name}: the example's field '{field.Name}' is not in the request schema";
                }
            }
        }
    }

    private static IEnumerable<string> ResponseGaps(JsonElement root, string name, string route, JsonElement operation)
    {
        var responses = operation.GetProperty("responses").EnumerateObject().ToDictionary(r => r.Name, r => r.Value);
        if (!responses.Keys.Any(code => code.StartsWith('2')))
        {
            yield return $"{name} declares no success answer";
        }

        if (route.StartsWith("/api/", StringComparison.Ordinal) && !responses.Keys.Any(code => code.StartsWith('4')))
        {
            yield return $"{name} declares no refusal (4xx problem+json)";
        }

        // who may call it: admin routes need a key, device routes a certificate
        var refusedCallers = route.StartsWith("/api/admin", StringComparison.Ordinal) || route.StartsWith("/api/firmware", StringComparison.Ordinal)
                             || route.StartsWith("/api/device", StringComparison.Ordinal)
            ? new[] { "401", "403" }
            : [];
        foreach (var code in refusedCallers.Where(c => !responses.ContainsKey(c)))
        {
            yield return $"{name} does not declare {code}";
        }

        foreach (var (code, response) in responses)
        {
            if (!response.TryGetProperty("content", out var content) || !content.EnumerateObject().Any())
            {
                yield return $"{name}: response {code} has no content";
                continue;
            }

            foreach (var media in content.EnumerateObject().Where(m => !m.Value.TryGetProperty("schema", out _)))
            {
                yield return $"{name}: response {code} {media.Name} has no schema";
            }

            if (code.StartsWith('4') && !content.TryGetProperty("application/problem+json", out _))
            {
                yield return $"{name}: response {code} is not application/problem+json";
            }
        }
    }

    /// <summary>The schema a $ref (or a nullable "oneOf": [null, $ref]) points at.</summary>
    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        if (schema.TryGetProperty("oneOf", out var choices) && choices.EnumerateArray().FirstOrDefault(c => c.TryGetProperty("$ref", out _)) is
            { ValueKind: JsonValueKind.Object } referenced)
        {
            schema = referenced;
        }

        if (!schema.TryGetProperty("$ref", out var reference))
        {
            return schema;
        }

        var name = reference.GetString()!.Split('/')[^1];
        return root.GetProperty("components").GetProperty("schemas").GetProperty(name);
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;
using Paku.Ota.Api.Security;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>What the admin tests share: the seed's API key as a configured write key, releases and
/// devices written straight into the database (there is no upload endpoint on this branch), and small
/// readers for JSON and problem+json answers.</summary>
internal static class AdminFixtures
{
    /// <summary>The key the seed's curl examples send.</summary>
    public const string SeedKey = "your-secret-api-key-here";

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Ota:ApiKeys:2:Name"] = "seed-operator",
        ["Ota:ApiKeys:2:Hash"] = ApiKeys.Hash(SeedKey),
        ["Ota:ApiKeys:2:Scope"] = "write",
        // the tests check the same devices many times a minute
        ["Ota:RateLimit:DeviceRequestsPerWindow"] = "1000000",
    };

    public static async Task<(TestDatabase Db, ApiFactory Factory)> StartAsync(string database) =>
        await ApiFactory.StartAsync(database, Settings);

    /// <summary>Empties the database and makes the service forget the rollouts it had cached.</summary>
    public static async Task ResetAsync(TestDatabase db, ApiFactory factory)
    {
        await db.ResetAsync();
        factory.RefreshCatalog();
    }

    /// <summary>A release with a small image of its own, as the upload endpoint would store it.</summary>
    public static async Task InsertReleaseAsync(
        TestDatabase db, string model, string version, string? minVersion = null, string? withdrawnReason = null)
    {
        var content = Encoding.UTF8.GetBytes($"\u00e9image {model} {version}");
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(content));
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            insert into firmware_binaries (sha256, size_bytes, content) values (@sha256, @size, @content)
            on conflict (sha256) do nothing;
            insert into firmware_releases (version, device_model, checksum_sha256, size_bytes, min_version, release_notes,
                                           withdrawn_at, withdrawn_reason)
            values (@version, @model, @sha256, @size, @minVersion, 'notes for ' || @version,
                    case when @withdrawnReason::text is null then null else now() end, @withdrawnReason);
            """, new { sha256, size = (long)content.Length, content, version, model, minVersion, withdrawnReason });
    }

    /// <summary>A registered device, as its first check would have left it, with groups set the seed's way.</summary>
    public static async Task InsertDeviceAsync(TestDatabase db, string id, string model = "esp32", string version = "1.0.0", params string[] groups)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            insert into devices (device_id, device_model, current_firmware_version, metadata)
            values (@id, @model, @version,
                    case when @groups::text is null then '{}'::jsonb else jsonb_build_object('groups', @groups::jsonb) end)
            """, new { id, model, version, groups = groups.Length == 0 ? null : JsonSerializer.Serialize(groups) });
    }

    public static async Task<long> CountAsync(TestDatabase db, string sql, object? parameters = null)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>(sql, parameters);
    }

    public static async Task ExecuteAsync(TestDatabase db, string sql, object? parameters = null)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>Sends <paramref name="json"/> byte for byte, as curl -d does.</summary>
    public static Task<HttpResponseMessage> SendJsonAsync(this HttpClient client, HttpMethod method, string url, string json) =>
        client.SendAsync(new HttpRequestMessage(method, url) { Content = new StringContent(json, Encoding.UTF8, "application/json") });

    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>The device's own update check, as the seed's device code makes it.</summary>
    public static async Task<JsonElement> CheckAsync(this HttpClient client, string deviceId, string model, string version)
    {
        var response = await client.GetAsync(
            $"/api/firmware/check?device_id={Uri.EscapeDataString(deviceId)}&device_model={Uri.EscapeDataString(model)}&current_version={Uri.EscapeDataString(version)}");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        return await response.JsonAsync();
    }

    /// <summary>Asserts a problem+json answer with <paramref name="status"/> whose errors name <paramref name="field"/>.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        if (field is not null)
        {
            Assert.That(problem.TryGetProperty("errors", out var errors), Is.True, $"no errors in {text}");
            Assert.That(errors.EnumerateObject().Select(e => e.Name), Does.Contain(field), text);
        }

        return problem;
    }

    /// <summary>Everything the service stores except the audit log, as one comparable value: what a
    /// refused request must leave as it was.</summary>
    public static async Task<string> FingerprintAsync(TestDatabase db)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        var parts = new List<string>();
        foreach (var table in new[] { "firmware_binaries", "firmware_releases", "rollouts", "devices", "rollout_devices", "device_update_status" })
        {
            parts.Add(await connection.ExecuteScalarAsync<string>(
                $"select '{table}:' || count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {table} t") ?? "");
        }

        return string.Join(" ", parts);
    }

    public static IReadOnlyList<string> Strings(this JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];
}

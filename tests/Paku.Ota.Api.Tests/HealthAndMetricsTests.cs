using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

public sealed class HealthAndMetricsTests
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
    public async Task Health_is_healthy_when_the_database_answers()
    {
        using var client = _factory.CreateClient();

        var response = await client.GetAsync("/health");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(body.GetProperty("status").GetString(), Is.EqualTo("healthy"));
        Assert.That(body.GetProperty("database").GetString(), Is.EqualTo("reachable"));
    }

    [Test]
    public async Task Health_is_503_when_the_database_is_unreachable()
    {
        await using var factory = new ApiFactory("Host=127.0.0.1;Port=1;Username=postgres;Database=none;Timeout=2");
        using var client = factory.CreateClient();

        var response = await client.GetAsync("/health");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(body.GetProperty("database").GetString(), Is.EqualTo("unreachable"));
    }

    [Test]
    public async Task Health_is_503_naming_the_pending_migrations_until_migrate_has_run()
    {
        var server = new Npgsql.NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = "postgres" };
        await using (var admin = new Npgsql.NpgsqlConnection(server.ConnectionString))
        {
            await admin.OpenAsync();
            // DROP and CREATE DATABASE wait for a checkpoint, which takes far longer than a query's 30 s on a loaded machine
            await using var drop = new Npgsql.NpgsqlCommand("drop database if exists paku_test_unmigrated with (force); create database paku_test_unmigrated", admin) { CommandTimeout = 300 };
            await drop.ExecuteNonQueryAsync();
        }

        var unmigrated = new Npgsql.NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = "paku_test_unmigrated" }.ConnectionString;
        await using var factory = new ApiFactory(unmigrated);
        using var client = factory.CreateClient();

        var before = await client.GetAsync("/health");
        var body = await before.Content.ReadFromJsonAsync<JsonElement>();
        var outcome = new Paku.Ota.Infrastructure.Persistence.Migrator(unmigrated, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).Run();
        var after = await client.GetAsync("/health");

        Assert.That(before.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(body.GetProperty("database").GetString(), Is.EqualTo("reachable"));
        Assert.That(body.GetProperty("migrations").GetString(), Is.EqualTo("pending"));
        Assert.That(body.GetProperty("reason").GetString(), Does.Contain("0001_initial.sql").And.Contain("run the migrate verb"));
        Assert.That(outcome.Succeeded, Is.True, outcome.Failure);
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), await after.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Metrics_are_prometheus_text_with_http_server_instruments()
    {
        using var client = _factory.CreateClient();
        await client.GetAsync("/health");

        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
        Assert.That(text, Does.Contain("# TYPE http_server_request_duration_seconds histogram"));
    }

    [Test]
    public async Task An_unknown_path_is_a_problem_json_404()
    {
        using var client = _factory.CreateClient();

        var response = await client.GetAsync("/no/such/thing");

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
    }
}

using Dapper;
using Npgsql;
using Paku.Ota.Domain.Devices;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The database's rule for a device model's form (migration 0008: <c>device_model = lower(device_model)</c>)
/// is the Domain's <see cref="DeviceModel.Canonical"/>: the same form for every character a model may hold,
/// and no other form can be stored.</summary>
[NonParallelizable]
public sealed class DeviceModelSqlTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [TestCase("ESP32")]
    [TestCase("esp32-S3_Rev.B")]
    [TestCase("ABCDEFGHIJKLMNOPQRSTUVWXYZ._-")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456789")]
    public async Task Sql_lower_is_the_domain_canonical_form(string model)
    {
        Assert.That(DeviceModel.IsValid(model, out var error), Is.True, error);
        await using var c = await _db.DataSource.OpenConnectionAsync();

        var lowered = await c.ExecuteScalarAsync<string>("select lower(@model)", new { model });

        Assert.That(lowered, Is.EqualTo(DeviceModel.Canonical(model)));
    }

    [Test]
    public async Task A_device_model_in_another_form_cannot_be_stored()
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();

        var refused = await Assert.ThrowsAsync<PostgresException>(() => c.ExecuteAsync(
            "insert into devices (device_id, device_model, current_firmware_version) values ('esp32_001', 'ESP32', '1.0.0')"));

        Assert.That(refused!.ConstraintName, Is.EqualTo("devices_device_model_canonical"));
    }

    [Test]
    public async Task Migration_0008_brings_rows_written_before_it_to_the_canonical_form()
    {
        // in a transaction that is rolled back: the schema keeps its constraints whatever the test does
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await using var rollback = await c.BeginTransactionAsync();
        await c.ExecuteAsync(DropConstraints);
        await InsertReleaseAsync(c, "ESP32", "1.0.0");
        await c.ExecuteAsync("insert into devices (device_id, device_model, current_firmware_version) values ('esp32_001', 'Esp32', '1.0.0')");

        await c.ExecuteAsync(Migration0009());

        Assert.That(await c.QuerySingleAsync<string>("select device_model from firmware_releases"), Is.EqualTo("esp32"));
        Assert.That(await c.QuerySingleAsync<string>("select device_model from devices"), Is.EqualTo("esp32"));
    }

    [Test]
    public async Task Migration_0008_stops_and_names_two_releases_that_would_become_one()
    {
        // in a transaction that is rolled back: the schema keeps its constraints whatever the test does
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await using var rollback = await c.BeginTransactionAsync();
        await c.ExecuteAsync(DropConstraints);
        await InsertReleaseAsync(c, "ESP32", "1.0.0");
        await InsertReleaseAsync(c, "esp32", "1.0.0");

        var refused = await Assert.ThrowsAsync<PostgresException>(() => c.ExecuteAsync(Migration0009()));

        Assert.That(refused!.MessageText, Does.Contain("1.0.0 (models ESP32, esp32)"));
    }

    private const string DropConstraints = """
        alter table firmware_releases drop constraint firmware_releases_device_model_canonical;
        alter table rollouts drop constraint rollouts_device_model_canonical;
        alter table devices drop constraint devices_device_model_canonical;
        """;

    private static string Migration0009()
    {
        using var stream = typeof(Paku.Ota.Infrastructure.Persistence.OtaDatabase).Assembly
            .GetManifestResourceStream("Paku.Ota.Migrations.0008_canonical_device_models.sql")!;
        return new StreamReader(stream).ReadToEnd();
    }

    private static async Task InsertReleaseAsync(NpgsqlConnection c, string model, string version)
    {
        var content = System.Text.Encoding.ASCII.GetBytes(model + version);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        await c.ExecuteAsync("insert into firmware_binaries (sha256, size_bytes, content) values (@sha, @size, @content) on conflict do nothing",
            new { sha, size = (long)content.Length, content });
        await c.ExecuteAsync("insert into firmware_releases (version, device_model, checksum_sha256, size_bytes) values (@version, @model, @sha, @size)",
            new { version, model, sha, size = (long)content.Length });
    }
}

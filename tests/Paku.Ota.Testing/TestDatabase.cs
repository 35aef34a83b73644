using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Paku.Ota.Infrastructure.Persistence;
using Respawn;

namespace Paku.Ota.Testing;

/// <summary>A real, migrated PostgreSQL database of its own for one test project, reset with Respawn
/// between tests. The cluster comes from PAKU_TEST_PG (set by test.sh), or the private cluster that
/// scripts/pg-start.sh runs by default.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string DefaultServer = "Host=127.0.0.1;Port=55432;Username=postgres";

    private Respawner? _respawner;

    private TestDatabase(string connectionString, NpgsqlDataSource dataSource)
    {
        ConnectionString = connectionString;
        DataSource = dataSource;
    }

    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("PAKU_TEST_PG") is { Length: > 0 } cs ? cs : DefaultServer;

    /// <summary>Creates (if needed) and migrates database <paramref name="name"/>, then empties it.</summary>
    public static async Task<TestDatabase> CreateAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = name };
        var connectionString = builder.ConnectionString;
        var outcome = new Migrator(connectionString, NullLoggerFactory.Instance).Run();
        if (!outcome.Succeeded)
        {
            throw new InvalidOperationException(
                $"The test database could not be prepared ({outcome.Failure}). Run the tests through ./test.sh, " +
                "which starts a private PostgreSQL, or point PAKU_TEST_PG at a server.");
        }

        var database = new TestDatabase(connectionString, OtaDatabase.CreateDataSource(connectionString));
        await database.ResetAsync();
        return database;
    }

    public async Task ResetAsync()
    {
        // A request a previous test left running (a cut-off upload, a background refresher) can hold
        // rows that Respawn deletes in another order; PostgreSQL then picks one side as a deadlock victim.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await ResetOnceAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                await Task.Delay(100 * attempt);
            }
        }
    }

    private async Task ResetOnceAsync()
    {
        await using var connection = await DataSource.OpenConnectionAsync();
        _respawner ??= await Respawner.CreateAsync(connection, new RespawnerOptions
        {
            DbAdapter = DbAdapter.Postgres,
            SchemasToInclude = ["public"],
            // DbUp's journal says which scripts ran; the generation row is part of the schema.
            TablesToIgnore = ["schemaversions", "catalog_generation"],
        });
        await _respawner.ResetAsync(connection);
    }

    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}

using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

public sealed class MigrationTests
{
    private static string FreshDatabase()
    {
        var name = "paku_test_migrate_" + Guid.NewGuid().ToString("N")[..8];
        return new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = name }.ConnectionString;
    }

    private static async Task DropAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        NpgsqlConnection.ClearAllPools();
        await using var server = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = "postgres" }.ConnectionString);
        // dropping a database waits for a checkpoint, which on a loaded machine outlasts the default 30 s
        await server.ExecuteAsync(new CommandDefinition($"drop database if exists \"{name}\" with (force)", commandTimeout: 300));
    }

    [Test]
    public async Task A_fresh_database_gets_every_script_and_a_second_run_applies_nothing()
    {
        var cs = FreshDatabase();
        try
        {
            var first = new Migrator(cs, NullLoggerFactory.Instance).Run();
            var second = new Migrator(cs, NullLoggerFactory.Instance).Run();

            var scripts = Directory.GetFiles(Path.Combine(RepoRoot(), "db", "migrations"), "*.sql").Select(Path.GetFileName).Order().ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(first.Succeeded, Is.True, first.Failure);
                Assert.That(first.AppliedScripts, Is.EqualTo(scripts));
                Assert.That(second.Succeeded, Is.True, second.Failure);
                Assert.That(second.AppliedScripts, Is.Empty);
            });
        }
        finally
        {
            await DropAsync(cs);
        }
    }

    [Test]
    public void An_unreachable_server_fails_with_the_reason()
    {
        var outcome = new Migrator("Host=127.0.0.1;Port=1;Username=postgres;Database=nowhere;Timeout=2", NullLoggerFactory.Instance).Run();

        Assert.Multiple(() =>
        {
            Assert.That(outcome.Succeeded, Is.False);
            Assert.That(outcome.Failure, Does.Contain("127.0.0.1:1"));
        });
    }

    [Test]
    public void Migration_scripts_are_zero_padded_and_numbered_without_gaps()
    {
        var names = Directory.GetFiles(Path.Combine(RepoRoot(), "db", "migrations"), "*.sql").Select(Path.GetFileName).Order().ToArray();

        Assert.That(names, Is.Not.Empty);
        for (var i = 0; i < names.Length; i++)
        {
            Assert.That(names[i], Does.Match($"^{i + 1:D4}_[a-z0-9_]+\\.sql$"));
        }
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paku.Ota.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Paku.Ota.sln not found above the test directory.");
    }
}

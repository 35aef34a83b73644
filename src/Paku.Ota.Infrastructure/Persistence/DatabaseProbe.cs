using Dapper;
using Npgsql;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class DatabaseProbe(NpgsqlDataSource dataSource) : IDatabaseProbe
{
    /// <summary>The migrations embedded in this build, by the name DbUp records them under.</summary>
    private static readonly string[] Known = [.. typeof(Migrator).Assembly.GetManifestResourceNames()
        .Where(name => name.StartsWith(Migrator.ScriptPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    // Migrations are never unapplied, so once the schema was seen current the check costs no more queries.
    private volatile bool _current;

    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("select 1");
            return await command.ExecuteScalarAsync(cancellationToken) is 1;
        }
        catch (NpgsqlException)
        {
            return false;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public async Task<IReadOnlyList<string>?> PendingMigrationsAsync(CancellationToken cancellationToken)
    {
        if (_current)
        {
            return [];
        }

        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select to_regclass('schemaversions') is not null", cancellationToken: cancellationToken));
            var applied = exists
                ? (await connection.QueryAsync<string>(new CommandDefinition("select scriptname from schemaversions", cancellationToken: cancellationToken)))
                    .ToHashSet(StringComparer.Ordinal)
                : [];
            var pending = Known.Where(name => !applied.Contains(name)).Select(name => name[Migrator.ScriptPrefix.Length..]).ToList();
            _current = pending.Count == 0;
            return pending;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return null;
        }
    }
}

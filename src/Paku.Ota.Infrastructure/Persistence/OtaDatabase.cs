using Microsoft.Extensions.Configuration;
using Npgsql;

namespace Paku.Ota.Infrastructure.Persistence;

public static class OtaDatabase
{
    public const string ConnectionStringName = "Ota";

    public static string RequireConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString(ConnectionStringName) is { Length: > 0 } cs
            ? cs
            : throw new InvalidOperationException(
                $"No database configured: set ConnectionStrings__{ConnectionStringName} (e.g. Host=127.0.0.1;Port=5432;Username=ota;Password=…;Database=ota).");

    /// <summary>One data source for the process. Short timeouts: when PostgreSQL goes away, requests
    /// fail fast (and are answered 503) instead of piling up.</summary>
    public static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        System.Data.Common.DbConnectionStringBuilder given;
        NpgsqlConnectionStringBuilder builder;
        try
        {
            given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            // the message names the bad keyword or value, never the password
            throw new InvalidOperationException(
                $"ConnectionStrings__{ConnectionStringName} is not a valid PostgreSQL connection string: {e.Message} " +
                "(expected e.g. Host=127.0.0.1;Port=5432;Username=ota;Password=…;Database=ota).", e);
        }

        if (!given.ContainsKey("Timeout"))
        {
            builder.Timeout = 5;
        }

        if (!given.ContainsKey("Command Timeout") && !given.ContainsKey("CommandTimeout"))
        {
            builder.CommandTimeout = 15;
        }

        // the device paths run a handful of statements very often: let Npgsql prepare them
        if (!given.ContainsKey("Max Auto Prepare") && !given.ContainsKey("MaxAutoPrepare"))
        {
            builder.MaxAutoPrepare = 32;
            builder.AutoPrepareMinUsages = 2;
        }

        return new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }
}

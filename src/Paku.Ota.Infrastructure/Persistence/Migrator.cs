using DbUp;
using DbUp.Engine;
using Microsoft.Extensions.Logging;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Applies the embedded db/migrations scripts in name order, one transaction per script.
/// Already-applied scripts (recorded in DbUp's <c>schemaversions</c>) are skipped, so running it twice is a no-op.</summary>
public sealed class Migrator(string connectionString, ILoggerFactory loggerFactory)
{
    public const string ScriptPrefix = "Paku.Ota.Migrations.";

    public MigrationOutcome Run()
    {
        var logger = loggerFactory.CreateLogger<Migrator>();
        try
        {
            EnsureDatabase.For.PostgresqlDatabase(connectionString, new DbUpLog(logger));
        }
        catch (Exception e)
        {
            return new MigrationOutcome(false, [], $"cannot reach or create the database: {e.Message}");
        }

        var upgrader = DeployChanges.To
            .PostgresqlDatabase(connectionString)
            .WithScriptsEmbeddedInAssembly(typeof(Migrator).Assembly, name => name.StartsWith(ScriptPrefix, StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogTo(new DbUpLog(logger))
            .Build();

        DatabaseUpgradeResult result;
        try
        {
            result = upgrader.PerformUpgrade();
        }
        catch (Exception e)
        {
            return new MigrationOutcome(false, [], $"migration failed: {e.Message}");
        }

        var applied = result.Scripts.Select(s => s.Name[ScriptPrefix.Length..]).ToArray();
        return result.Successful
            ? new MigrationOutcome(true, applied, null)
            : new MigrationOutcome(false, applied, $"script {result.ErrorScript?.Name[ScriptPrefix.Length..]} failed: {result.Error?.Message}");
    }

    private sealed class DbUpLog(ILogger logger) : DbUp.Engine.Output.IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) => logger.LogTrace(Format(format, args));

        public void LogDebug(string format, params object[] args) => logger.LogDebug(Format(format, args));

        public void LogInformation(string format, params object[] args) => logger.LogInformation(Format(format, args));

        public void LogWarning(string format, params object[] args) => logger.LogWarning(Format(format, args));

        public void LogError(string format, params object[] args) => logger.LogError(Format(format, args));

        public void LogError(Exception ex, string format, params object[] args) => logger.LogError(ex, Format(format, args));

        private static string Format(string format, object[] args) =>
            args.Length == 0 ? format : string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args);
    }
}

/// <summary>What a migration run did: the scripts it applied now, or why it failed.</summary>
public sealed record MigrationOutcome(bool Succeeded, IReadOnlyList<string> AppliedScripts, string? Failure);

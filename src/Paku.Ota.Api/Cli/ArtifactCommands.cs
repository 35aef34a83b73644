using Paku.Ota.Infrastructure;
using Paku.Ota.Infrastructure.Artifacts;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Api.Cli;

/// <summary><c>artifacts-move</c>: moves every stored image to PostgreSQL or to the artifact directory.</summary>
public static class ArtifactCommands
{
    public const string Usage = """
          artifacts-move --to directory|postgresql [--directory DIR]
                       moves every image into one store, verifying each copy; safe to run again or while
                       serving (DIR defaults to Ota:Artifacts:Directory; the database is ConnectionStrings:Ota,
                       which may also be given as --ConnectionStrings:Ota=...)
        """;

    public static async Task<int> MoveAsync(string[] args)
    {
        // --Name=value arguments are configuration (as for migrate); the others are this verb's options
        var configuration = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)).ToArray();
        var own = args.Where(a => !configuration.Contains(a)).ToArray();
        if (!Options.TryParse(own, new HashSet<string>(["to", "directory"], StringComparer.Ordinal), out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"artifacts-move: {error}");
            return 2;
        }

        if (ArtifactOptions.Parse(options["to"]) is not { } target)
        {
            await Console.Error.WriteLineAsync("artifacts-move: --to must be 'directory' or 'postgresql'");
            return 2;
        }

        var builder = Host.CreateApplicationBuilder(configuration);
        if (options["directory"] is { } directory)
        {
            builder.Configuration["Ota:Artifacts:Directory"] = directory;
        }

        try
        {
            _ = OtaDatabase.RequireConnectionString(builder.Configuration);
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"artifacts-move: {e.Message}");
            return 1;
        }

        builder.Services.AddInfrastructure(builder.Configuration);
        using var host = builder.Build();
        ArtifactMover mover;
        try
        {
            mover = host.Services.GetRequiredService<ArtifactMover>();
            _ = target == Application.Firmware.Artifacts.ArtifactStoreKind.Directory
                ? host.Services.GetRequiredService<ArtifactStores>().Directory ?? throw new InvalidOperationException(
                    "no artifact directory: pass --directory DIR or set Ota:Artifacts:Directory")
                : null;
        }
        catch (InvalidOperationException e)
        {
            await Console.Error.WriteLineAsync($"artifacts-move: {e.Message}");
            return 2;
        }

        MoveReport report;
        try
        {
            report = await mover.MoveAllAsync(target, line => Console.WriteLine($"artifacts-move: {line}"), CancellationToken.None);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.UndefinedColumn)
        {
            await Console.Error.WriteLineAsync("artifacts-move: the database schema is older than this verb; run 'migrate' first");
            return 1;
        }

        foreach (var failure in report.Failures)
        {
            await Console.Error.WriteLineAsync($"artifacts-move: FAILED {failure}");
        }

        Console.WriteLine($"artifacts-move: {report.Moved} moved to {ArtifactOptions.Name(target)}, {report.AlreadyThere} already there, {report.Failures.Count} failed");
        return report.Failures.Count == 0 ? 0 : 1;
    }
}

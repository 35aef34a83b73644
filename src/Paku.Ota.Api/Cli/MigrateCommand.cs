using Paku.Ota.Infrastructure;
using Paku.Ota.Infrastructure.Persistence;

namespace Paku.Ota.Api.Cli;

/// <summary><c>migrate</c>: the deploy-time migration runner. Exit code 0 when the schema is current.</summary>
public static class MigrateCommand
{
    public static int Run(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>();
        string connectionString;
        try
        {
            connectionString = OtaDatabase.RequireConnectionString(builder.Configuration);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"migrate: {e.Message}");
            return 1;
        }

        var outcome = new Migrator(connectionString, log).Run();
        if (!outcome.Succeeded)
        {
            Console.Error.WriteLine($"migrate: {outcome.Failure}");
            return 1;
        }

        Console.WriteLine(outcome.AppliedScripts.Count == 0
            ? "migrate: the schema is current; nothing to apply"
            : $"migrate: applied {string.Join(", ", outcome.AppliedScripts)}");
        return 0;
    }
}

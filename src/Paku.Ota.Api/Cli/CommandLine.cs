namespace Paku.Ota.Api.Cli;

/// <summary>The executable's verbs. <c>serve</c> is the default, so a plain start (and a test host,
/// which passes only --options) serves.</summary>
public static class CommandLine
{
    public const string Usage = """
        usage: Paku.Ota.Api [verb] [--options]
          serve      run the service (the default)
          migrate    apply pending database migrations and exit (0 = the schema is current)
          help       print this and exit (also --help, -h)
        """ + "\n" + CertificateCommands.Usage + "\n" + ArtifactCommands.Usage + "\n" + """
        Configuration comes from appsettings*.json and the environment (ConnectionStrings__Ota, Ota__...).
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        // asked for help, the executable prints it and starts nothing (no database, no listener)
        if (args.Length > 0 && args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var verb = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
        var rest = verb == "serve" && (args.Length == 0 || args[0].StartsWith('-')) ? args : args[1..];
        switch (verb)
        {
            case "serve":
                return await ServeAsync(rest);
            case "migrate":
                return MigrateCommand.Run(rest);
            case "ca-create":
                return CertificateCommands.CreateAuthority(rest);
            case "cert-device":
                return CertificateCommands.IssueDevice(rest);
            case "cert-server":
                return CertificateCommands.IssueServer(rest);
            case "signing-key":
                return CertificateCommands.CreateSigningKey(rest);
            case "hash-key":
                return CertificateCommands.HashKey(rest);
            case "artifacts-move":
                return await ArtifactCommands.MoveAsync(rest);
            default:
                await Console.Error.WriteLineAsync($"unknown verb '{verb}'.\n{Usage}");
                return 2;
        }
    }

    /// <summary>Serves until shut down. A start that fails (bad configuration, a missing file, a port in use)
    /// is one line on stderr and exit code 2: under a restart policy the reason is in the log, not a
    /// screen of stack trace. A failure after the start is a crash and keeps its stack trace.</summary>
    private static async Task<int> ServeAsync(string[] args)
    {
        WebApplication? app = null;
        try
        {
            app = ServiceHost.Build(args);
            await app.StartAsync();
        }
        catch (Exception e) when (e is not HostAbortedException)
        {
            await Console.Error.WriteLineAsync($"Paku.Ota.Api: cannot start: {StartFailure.Describe(e)}");
            if (app is not null)
            {
                await StartFailure.DisposeQuietlyAsync(app);
            }

            return 2;
        }

        await using (app)
        {
            await app.WaitForShutdownAsync();
        }

        return 0;
    }
}

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
                await ServiceHost.Build(rest).RunAsync();
                return 0;
            case "migrate":
                return MigrateCommand.Run(rest);
            case "ca-create":
                return CertificateCommands.CreateAuthority(rest);
            case "cert-device":
                return CertificateCommands.IssueDevice(rest);
            case "cert-server":
                return CertificateCommands.IssueServer(rest);
            case "hash-key":
                return CertificateCommands.HashKey(rest);
            case "artifacts-move":
                return await ArtifactCommands.MoveAsync(rest);
            default:
                await Console.Error.WriteLineAsync($"unknown verb '{verb}'.\n{Usage}");
                return 2;
        }
    }
}

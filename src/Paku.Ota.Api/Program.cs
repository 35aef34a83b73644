using Paku.Ota.Api.Cli;

return await CommandLine.RunAsync(args);

/// <summary>The entry point's type, for WebApplicationFactory in the Api tests.</summary>
public partial class Program;

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Cli;

/// <summary>A start that cannot succeed — a setting that is wrong, a file that is missing, a port that is
/// taken — is one line on stderr naming what to fix, and exit code 2, with no stack trace anywhere: under
/// <c>restart: unless-stopped</c> the log then says why at a glance. The real executable is started as a
/// separate process, as a container or systemd would start it.</summary>
[NonParallelizable]
public sealed class StartFailureTests
{
    private const string Prefix = "Paku.Ota.Api: cannot start: ";

    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task Start() => _db = await TestDatabase.CreateAsync("paku_test_start");

    [OneTimeTearDown]
    public async Task Stop() => await _db.DisposeAsync();

    [Test]
    public async Task A_connection_string_that_cannot_be_read_is_one_line_naming_the_setting_and_exit_2()
    {
        var run = await ServeAsync(new() { ["ConnectionStrings__Ota"] = "Host=127.0.0.1;Colour=blue" });

        AssertOneLine(run, "ConnectionStrings__Ota is not a valid PostgreSQL connection string", "colour");
    }

    [Test]
    public async Task A_missing_server_certificate_is_one_line_naming_the_setting_and_the_path_and_exit_2()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"paku-no-such-{Guid.NewGuid():N}.crt");

        var run = await ServeAsync(new() { ["Ota__Https__CertificatePath"] = missing, ["Ota__Https__KeyPath"] = missing + ".key" });

        AssertOneLine(run, "Ota:Https:CertificatePath", missing);
    }

    [TestCase("Ota__Http__Port", "eighty", "Ota:Http:Port")]
    [TestCase("Ota__Http__ListenAddress", "localhost:8080", "Ota:Http:ListenAddress")]
    [TestCase("Ota__ApiKeys__0__Hash", "sha256:change-me", "Ota:ApiKeys:0:Hash")]
    public async Task A_malformed_setting_is_one_line_naming_it_and_exit_2(string variable, string value, string named)
    {
        var settings = new Dictionary<string, string?> { [variable] = value };
        if (variable.StartsWith("Ota__ApiKeys", StringComparison.Ordinal))
        {
            settings["Ota__ApiKeys__0__Name"] = "ops";
            settings["Ota__ApiKeys__0__Scope"] = "write";
        }

        var run = await ServeAsync(settings);

        AssertOneLine(run, named);
    }

    [Test]
    public async Task A_port_already_in_use_is_one_line_and_exit_2()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var run = await ServeAsync(new() { ["Ota__Http__Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });

        AssertOneLine(run, port.ToString(System.Globalization.CultureInfo.InvariantCulture), "address already in use");
    }

    private static void AssertOneLine((int Exit, string Output, string Errors) run, params string[] mentions)
    {
        var errorLines = run.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.That(run.Exit, Is.EqualTo(2), $"stdout:\n{run.Output}\nstderr:\n{run.Errors}");
        Assert.That(errorLines, Has.Length.EqualTo(1), run.Errors);
        Assert.That(errorLines[0], Does.StartWith(Prefix));
        foreach (var mention in mentions)
        {
            Assert.That(errorLines[0], Does.Contain(mention).IgnoreCase);
        }

        Assert.That(run.Output + run.Errors, Does.Not.Contain("   at ").And.Not.Contain("Unhandled exception"), "no stack trace");
    }

    /// <summary>Runs <c>Paku.Ota.Api serve</c> in production mode on a free port against the test database,
    /// with the given environment on top. A start that does not fail within the deadline is a failed test.</summary>
    private async Task<(int Exit, string Output, string Errors)> ServeAsync(Dictionary<string, string?> environment)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Paku.Ota.Api.dll"));
        start.ArgumentList.Add("serve");
        foreach (var inherited in start.Environment.Keys.Where(k => k.StartsWith("Ota__", StringComparison.Ordinal) || k.StartsWith("ConnectionStrings__", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(inherited);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ConnectionStrings__Ota"] = _db.ConnectionString;
        start.Environment["Ota__Http__Port"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Ota__Http__ListenAddress"] = "127.0.0.1";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("the service started (or hung) instead of refusing to start");
        }

        return (process.ExitCode, await output, await errors);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

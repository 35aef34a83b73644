using System.Security.Cryptography.X509Certificates;
using Npgsql;
using Paku.Ota.Api.Cli;
using Paku.Ota.Api.Security;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Cli;

/// <summary>The executable's operator verbs, run as an operator would run them.</summary>
[NonParallelizable]
public sealed class CommandLineTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("paku-cli-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var output = new StringWriter();
        using var errors = new StringWriter();
        Console.SetOut(output);
        Console.SetError(errors);
        try
        {
            var exit = await CommandLine.RunAsync(args);
            return (exit, output.ToString(), errors.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    [TestCase("help")]
    [TestCase("--help")]
    [TestCase("-h")]
    public async Task Help_prints_every_verb_on_its_own_line_and_exits_0_without_starting_the_service(string asked)
    {
        // no database is configured here: a start would fail ("No database configured"), so exit 0 means nothing started
        var (exit, output, errors) = await RunAsync(asked);

        Assert.That(exit, Is.Zero, errors);
        Assert.That(output, Does.StartWith("usage: Paku.Ota.Api"));
        var verbs = output.Split('\n').Select(l => l.TrimStart().Split(' ')[0]).ToHashSet();
        Assert.That(verbs, Is.SupersetOf(new[] { "serve", "migrate", "help", "ca-create", "cert-device", "cert-server", "hash-key", "Configuration" }),
            "each verb, and the closing note, starts a line of its own");
    }

    [Test]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_device_certificate_issued_from_a_new_fleet_ca_chains_to_it_and_names_the_device()
    {
        var ca = await RunAsync("ca-create", "--out", _dir + "/ca");
        var device = await RunAsync("cert-device", "--ca", _dir + "/ca", "--id", "esp32_042", "--out", _dir + "/devices");

        using var root = X509CertificateLoader.LoadCertificateFromFile(_dir + "/ca/ca.crt");
        using var issued = X509Certificate2.CreateFromPemFile(_dir + "/devices/esp32_042.crt", _dir + "/devices/esp32_042.key");
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(root);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;

        Assert.That(ca.Exit, Is.Zero, ca.Errors);
        Assert.That(device.Exit, Is.Zero, device.Errors);
        Assert.That(chain.Build(issued), Is.True);
        Assert.That(issued.GetNameInfo(X509NameType.SimpleName, false), Is.EqualTo("esp32_042"));
        Assert.That(issued.HasPrivateKey, Is.True);
        Assert.That(File.GetUnixFileMode(_dir + "/devices/esp32_042.key"), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
    }

    [Test]
    public async Task A_fleet_ca_is_never_replaced()
    {
        await RunAsync("ca-create", "--out", _dir);
        var before = await File.ReadAllTextAsync(_dir + "/ca.key");

        var again = await RunAsync("ca-create", "--out", _dir);

        Assert.That(again.Exit, Is.EqualTo(1));
        Assert.That(again.Errors, Does.Contain("refusing to replace"));
        Assert.That(await File.ReadAllTextAsync(_dir + "/ca.key"), Is.EqualTo(before));
    }

    [TestCase("cert-device", "--ca", "x", "--id", "bad id", "--out", "y", ExpectedResult = 2)]
    [TestCase("cert-device", "--id", "esp32_1", "--out", "y", ExpectedResult = 2)]
    [TestCase("ca-create", "--out", "x", "--days", "-3", ExpectedResult = 2)]
    [TestCase("ca-create", "--bogus", "x", ExpectedResult = 2)]
    [TestCase("hash-key", "--key", "short", ExpectedResult = 2)]
    [TestCase("frobnicate", ExpectedResult = 2)]
    public async Task<int> Bad_arguments_are_refused_with_a_usage_error(params string[] args) => (await RunAsync(args)).Exit;

    [Test]
    public async Task Hash_key_prints_a_new_key_and_the_hash_the_service_accepts()
    {
        var (exit, output, _) = await RunAsync("hash-key");

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var key = lines.Single(l => l.StartsWith("key:", StringComparison.Ordinal))[4..].Trim();
        var hash = lines.Single(l => l.StartsWith("hash:", StringComparison.Ordinal))[5..].Trim();
        var registry = new ApiKeyRegistry([new ApiKeyOptions { Name = "ops", Hash = hash, Scope = "write" }]);

        Assert.That(exit, Is.Zero);
        Assert.That(registry.Find(key), Is.EqualTo(("ops", "write")));
        Assert.That(registry.Find(key + "x"), Is.Null);
    }

    [Test]
    public async Task Artifacts_move_moves_every_image_to_the_directory_once_and_refuses_an_unknown_store()
    {
        await using var db = await TestDatabase.CreateAsync("paku_test_cli_artifacts");
        var data = new FleetData(db);
        await data.AddReleaseAsync("esp32", "1.0.0", FleetData.Image(3000, seed: 1));
        await data.AddReleaseAsync("esp32", "1.1.0", FleetData.Image(3000, seed: 2));
        var directory = Path.Combine(_dir, "artifacts");

        var first = await RunAsync("artifacts-move", "--to", "directory", "--directory", directory, $"--ConnectionStrings:Ota={db.ConnectionString}");
        var again = await RunAsync("artifacts-move", "--to", "directory", "--directory", directory, $"--ConnectionStrings:Ota={db.ConnectionString}");
        var unknown = await RunAsync("artifacts-move", "--to", "s3", $"--ConnectionStrings:Ota={db.ConnectionString}");

        Assert.That(first.Exit, Is.Zero, first.Errors);
        Assert.That(first.Output, Does.Contain("2 moved to directory, 0 already there, 0 failed"));
        Assert.That(Directory.GetFiles(directory, "*", SearchOption.AllDirectories), Has.Length.EqualTo(2));
        Assert.That(again.Exit, Is.Zero, again.Errors);
        Assert.That(again.Output, Does.Contain("0 moved to directory, 2 already there, 0 failed"));
        Assert.That(unknown.Exit, Is.EqualTo(2));
        Assert.That(unknown.Errors, Does.Contain("--to must be 'directory' or 'postgresql'"));
    }

    [Test]
    public async Task Migrate_applies_the_schema_once_and_then_reports_it_current()
    {
        var name = "paku_test_cli_" + Guid.NewGuid().ToString("N")[..8];
        var cs = new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = name }.ConnectionString;
        try
        {
            var first = await RunAsync("migrate", $"--ConnectionStrings:Ota={cs}");
            var second = await RunAsync("migrate", $"--ConnectionStrings:Ota={cs}");
            var unreachable = await RunAsync("migrate", "--ConnectionStrings:Ota=Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=2");

            Assert.That(first.Exit, Is.Zero, first.Errors);
            Assert.That(first.Output, Does.Contain("applied 0001_initial.sql"));
            Assert.That(second.Exit, Is.Zero);
            Assert.That(second.Output, Does.Contain("nothing to apply"));
            Assert.That(unreachable.Exit, Is.EqualTo(1));
            Assert.That(unreachable.Errors, Does.Contain("127.0.0.1:1"));
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var server = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(TestDatabase.ServerConnectionString) { Database = "postgres" }.ConnectionString);
            await server.OpenAsync();
            // DROP and CREATE DATABASE wait for a checkpoint, which takes far longer than a query's 30 s on a loaded machine
            await using var drop = new NpgsqlCommand($"drop database if exists \"{name}\" with (force)", server) { CommandTimeout = 300 };
            await drop.ExecuteNonQueryAsync();
        }
    }
}

using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Paku.Ota.Api.Tests.Cli;

/// <summary>Private keys and the development API key are owner-only from the moment they exist: the
/// verbs run under strace, and every file holding one is created 0600 (not created 0644 and narrowed
/// afterwards), in directories created 0700.</summary>
[NonParallelizable]
public sealed partial class KeyFileModeTests
{
    private string _dir = null!;

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("paku-keys-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void The_certificate_verbs_create_every_key_file_0600_in_directories_created_0700()
    {
        var trace = Traced("ca-create", "--out", $"{_dir}/ca");
        trace += Traced("cert-device", "--ca", $"{_dir}/ca", "--id", "esp32_042", "--out", $"{_dir}/devices");
        trace += Traced("cert-server", "--ca", $"{_dir}/ca", "--dns", "ota.example.com", "--out", $"{_dir}/server");
        trace += Traced("signing-key", "--out", $"{_dir}/signing");

        AssertOwnerOnly(trace, ["ca.key", "esp32_042.key", "server.key", "signing.key"], [$"{_dir}/ca", $"{_dir}/devices", $"{_dir}/server", $"{_dir}/signing"]);
    }

    [Test]
    public void The_development_profile_creates_its_keys_and_api_key_0600_in_a_directory_created_0700()
    {
        // the profile writes its material before anything else; the service is stopped once the API key is there
        var trace = Traced(new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Ota__Development__Directory"] = $"{_dir}/dev",
            ["ConnectionStrings__Ota"] = "Host=127.0.0.1;Port=1;Username=x;Timeout=1",
            ["Ota__Http__Port"] = "0",
            ["Ota__Https__Port"] = "0",
        }, $"{_dir}/dev/admin-api-key", "serve");

        AssertOwnerOnly(trace, ["ca.key", "server.key", "esp32_001.key", "signing.key", "admin-api-key"], [$"{_dir}/dev", $"{_dir}/dev/devices"]);
    }

    private static void AssertOwnerOnly(string trace, string[] secrets, string[] directories)
    {
        var created = CreatedFile().Matches(trace).Select(m => (Path: m.Groups["path"].Value, Mode: m.Groups["mode"].Value)).ToList();
        foreach (var secret in secrets)
        {
            var files = created.Where(c => Path.GetFileName(c.Path).Contains(secret, StringComparison.Ordinal)).ToList();
            Assert.That(files, Is.Not.Empty, $"{secret} was written");
            Assert.That(files.Select(f => f.Mode), Has.All.EqualTo("0600"), $"every file that held {secret} was created owner-only: {string.Join(", ", files)}");
        }

        var made = CreatedDirectory().Matches(trace).ToDictionary(m => m.Groups["path"].Value, m => m.Groups["mode"].Value);
        foreach (var directory in directories)
        {
            Assert.That(made.GetValueOrDefault(directory), Is.EqualTo("0700"), $"{directory} was created owner-only");
        }
    }

    private string Traced(params string[] args) => Traced(new Dictionary<string, string>(), null, args);

    /// <summary>Runs the executable with <paramref name="args"/> under strace until it exits, or until
    /// <paramref name="doneWhen"/> exists (then it is stopped), and returns the trace.</summary>
    private string Traced(Dictionary<string, string> environment, string? doneWhen, params string[] args)
    {
        Assert.That(File.Exists("/usr/bin/strace"), Is.True, "strace is not installed; run scripts/install-test-deps.sh (test.sh does)");
        var log = Path.Combine(_dir, $"strace-{Guid.NewGuid():N}.log");
        var apphost = Path.Combine(TestContext.CurrentContext.TestDirectory, "Paku.Ota.Api");
        var start = new ProcessStartInfo("/usr/bin/strace", ["-f", "-qq", "-e", "trace=openat,mkdir,mkdirat", "-o", log, apphost, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            var deadline = Stopwatch.StartNew();
            while (!process.HasExited && deadline.Elapsed < TimeSpan.FromSeconds(60) && !(doneWhen is not null && File.Exists(doneWhen)))
            {
                Thread.Sleep(100);
            }

            Assert.That(process.HasExited || (doneWhen is not null && File.Exists(doneWhen)), Is.True, "the verb finished its work");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }
        }

        return File.ReadAllText(log);
    }

    [GeneratedRegex("""openat\(AT_FDCWD, "(?<path>[^"]+)", [^,)]*O_CREAT[^,)]*, (?<mode>0[0-7]+)\)""")]
    private static partial Regex CreatedFile();

    [GeneratedRegex("""mkdir(?:at)?\((?:AT_FDCWD, )?"(?<path>[^"]+)", (?<mode>0[0-7]+)\) = 0""")]
    private static partial Regex CreatedDirectory();
}

using System.Net;
using Paku.Ota.Api.Security;
using Paku.Ota.Domain.Devices;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Infrastructure.Signing;

namespace Paku.Ota.Api.Cli;

/// <summary>The operator's certificate tools: create a fleet CA, issue a device certificate (CN = device
/// id) or a server certificate from it. Output is PEM, ready to embed in an ESP-IDF build.</summary>
public static class CertificateCommands
{
    public const string Usage = """
          ca-create    --out DIR [--name "Fleet CA"] [--days 3650]      writes DIR/ca.crt and DIR/ca.key
          cert-device  --ca DIR --id DEVICE_ID --out DIR [--days 825]   writes DIR/DEVICE_ID.crt and .key
          cert-server  --ca DIR --dns name[,name] [--ip a[,b]] --out DIR [--days 825]
                                                                         writes DIR/server.crt and .key
          signing-key  --out DIR     writes DIR/signing.key (keep it where releases are built) and DIR/signing.pub (for Ota:Signing)
          hash-key     [--key KEY]   prints the hash of KEY for Ota:ApiKeys (a new random key when none is given)
        """;

    public static int CreateAuthority(string[] args)
    {
        if (!Parse(args, ["out", "name", "days"], out var o))
        {
            return 2;
        }

        var output = Require(o, "out");
        if (output is null || !TryDays(o, 3650, out var days))
        {
            return 2;
        }

        if (File.Exists(Path.Combine(output, "ca.key")))
        {
            Console.Error.WriteLine($"ca-create: {Path.Combine(output, "ca.key")} exists; refusing to replace a fleet CA (every device certificate chains to it)");
            return 1;
        }

        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        using var ca = FleetCertificates.CreateAuthority(o["name"] ?? "Paku OTA fleet CA", now, now.AddDays(days));
        FleetCertificates.WritePem(ca, Path.Combine(output, "ca.crt"), Path.Combine(output, "ca.key"));
        Console.WriteLine($"ca-create: wrote {Path.Combine(output, "ca.crt")} and ca.key (keep ca.key offline)");
        return 0;
    }

    public static int IssueDevice(string[] args)
    {
        if (!Parse(args, ["ca", "id", "out", "days"], out var o))
        {
            return 2;
        }

        var caDir = Require(o, "ca");
        var id = Require(o, "id");
        var output = Require(o, "out");
        if (caDir is null || id is null || output is null || !TryDays(o, 825, out var days))
        {
            return 2;
        }

        if (!DeviceId.IsValid(id, out var error))
        {
            Console.Error.WriteLine($"cert-device: {error}");
            return 2;
        }

        if (!TryLoadAuthority(caDir, "cert-device", out var ca))
        {
            return 1;
        }

        using (ca)
        {
            var now = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var device = FleetCertificates.IssueDevice(ca, id, now, now.AddDays(days));
            FleetCertificates.WritePem(device, Path.Combine(output, id + ".crt"), Path.Combine(output, id + ".key"));
        }

        Console.WriteLine($"cert-device: wrote {Path.Combine(output, id + ".crt")} and {id}.key");
        return 0;
    }

    public static int IssueServer(string[] args)
    {
        if (!Parse(args, ["ca", "dns", "ip", "out", "days"], out var o))
        {
            return 2;
        }

        var caDir = Require(o, "ca");
        var dns = Require(o, "dns");
        var output = Require(o, "out");
        if (caDir is null || dns is null || output is null || !TryDays(o, 825, out var days))
        {
            return 2;
        }

        var addresses = new List<IPAddress>();
        foreach (var text in (o["ip"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!IPAddress.TryParse(text, out var ip))
            {
                Console.Error.WriteLine($"cert-server: '{text}' is not an IP address");
                return 2;
            }

            addresses.Add(ip);
        }

        if (!TryLoadAuthority(caDir, "cert-server", out var ca))
        {
            return 1;
        }

        using (ca)
        {
            var now = DateTimeOffset.UtcNow.AddMinutes(-5);
            using var server = FleetCertificates.IssueServer(ca, dns.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), addresses, now, now.AddDays(days));
            FleetCertificates.WritePem(server, Path.Combine(output, "server.crt"), Path.Combine(output, "server.key"));
        }

        Console.WriteLine($"cert-server: wrote {Path.Combine(output, "server.crt")} and server.key");
        return 0;
    }

    public static int CreateSigningKey(string[] args)
    {
        if (!Parse(args, ["out"], out var o))
        {
            return 2;
        }

        var output = Require(o, "out");
        if (output is null)
        {
            return 2;
        }

        var key = Path.Combine(output, SigningKeyPair.PrivateFile);
        if (File.Exists(key))
        {
            Console.Error.WriteLine($"signing-key: {key} exists; refusing to replace a signing key (releases signed with it verify only against its public half)");
            return 1;
        }

        SigningKeyPair.Write(output);
        Console.WriteLine($"signing-key: wrote {key} and {SigningKeyPair.PublicFile} (configure the .pub in Ota:Signing:PublicKeys; the .key never goes on the server)");
        return 0;
    }

    public static int HashKey(string[] args)
    {
        if (!Parse(args, ["key"], out var o))
        {
            return 2;
        }

        var key = o["key"];
        if (key is null)
        {
            key = ApiKeys.NewKey();
            Console.WriteLine($"key:  {key}");
        }
        else if (key.Length < 24)
        {
            Console.Error.WriteLine("hash-key: a key shorter than 24 characters is too easy to guess; omit --key to get a random one");
            return 2;
        }

        Console.WriteLine($"hash: {ApiKeys.Hash(key)}");
        return 0;
    }

    private static bool Parse(string[] args, string[] known, out Options options)
    {
        if (Options.TryParse(args, known.ToHashSet(StringComparer.Ordinal), out options, out var error))
        {
            return true;
        }

        Console.Error.WriteLine(error);
        return false;
    }

    private static string? Require(Options options, string name)
    {
        var value = options[name];
        if (string.IsNullOrWhiteSpace(value))
        {
            Console.Error.WriteLine($"--{name} is required");
            return null;
        }

        return value;
    }

    private static bool TryDays(Options options, int fallback, out int days)
    {
        days = fallback;
        if (options["days"] is not { } text)
        {
            return true;
        }

        if (int.TryParse(text, out days) && days is > 0 and <= 36500)
        {
            return true;
        }

        Console.Error.WriteLine($"--days must be a whole number of days from 1 to 36500, not '{text}'");
        return false;
    }

    private static bool TryLoadAuthority(string directory, string verb, out System.Security.Cryptography.X509Certificates.X509Certificate2 ca)
    {
        ca = null!;
        var cert = Path.Combine(directory, "ca.crt");
        var key = Path.Combine(directory, "ca.key");
        if (!File.Exists(cert) || !File.Exists(key))
        {
            Console.Error.WriteLine($"{verb}: {directory} must hold ca.crt and ca.key (made by ca-create)");
            return false;
        }

        ca = FleetCertificates.LoadWithKey(cert, key);
        return true;
    }
}

using System.Net;
using Paku.Ota.Infrastructure.Certificates;
using Paku.Ota.Infrastructure.Signing;

namespace Paku.Ota.Api.Security;

/// <summary>The development profile: on first run it makes a fleet CA, a server certificate, one
/// device certificate, an admin API key and a firmware signing key pair under a git-ignored folder, and points the settings at
/// them (settings given explicitly still win). Plain-HTTP device calls are allowed, as the seed's
/// examples use http://localhost:8080.</summary>
public static class DevelopmentProfile
{
    public const string ExampleDeviceId = "esp32_001";

    public sealed record Material(string Directory, string ApiKey, string DeviceCertificate, string DeviceKey, string CaCertificate, string SigningKey);

    public static Material Apply(ConfigurationManager configuration, string contentRoot)
    {
        var directory = configuration["Ota:Development:Directory"] is { Length: > 0 } configured
            ? Path.GetFullPath(configured)
            : Path.Combine(contentRoot, ".local", "dev");
        SecretFiles.CreateDirectory(directory);

        var caCert = Path.Combine(directory, "ca.crt");
        var caKey = Path.Combine(directory, "ca.key");
        var serverCert = Path.Combine(directory, "server.crt");
        var serverKey = Path.Combine(directory, "server.key");
        var deviceCert = Path.Combine(directory, "devices", ExampleDeviceId + ".crt");
        var deviceKey = Path.Combine(directory, "devices", ExampleDeviceId + ".key");
        var apiKeyFile = Path.Combine(directory, "admin-api-key");
        var signingKey = Path.Combine(directory, SigningKeyPair.PrivateFile);
        var signingPublicKey = Path.Combine(directory, SigningKeyPair.PublicFile);

        var now = DateTimeOffset.UtcNow.AddMinutes(-5);
        if (!File.Exists(caCert) || !File.Exists(caKey))
        {
            using var ca = FleetCertificates.CreateAuthority("Paku OTA development fleet CA", now, now.AddYears(5));
            FleetCertificates.WritePem(ca, caCert, caKey);
            // a new CA invalidates whatever it did not sign
            foreach (var stale in new[] { serverCert, deviceCert })
            {
                if (File.Exists(stale))
                {
                    File.Delete(stale);
                }
            }
        }

        if (!File.Exists(serverCert) || !File.Exists(deviceCert))
        {
            using var ca = FleetCertificates.LoadWithKey(caCert, caKey);
            using var server = FleetCertificates.IssueServer(ca, ["localhost"], [IPAddress.Loopback, IPAddress.IPv6Loopback], now, now.AddYears(2));
            FleetCertificates.WritePem(server, serverCert, serverKey);
            using var device = FleetCertificates.IssueDevice(ca, ExampleDeviceId, now, now.AddYears(2));
            FleetCertificates.WritePem(device, deviceCert, deviceKey);
        }

        // uploads signed with signing.key (openssl dgst -sha256 -sign .local/dev/signing.key) verify against signing.pub
        if (!File.Exists(signingKey) || !File.Exists(signingPublicKey))
        {
            SigningKeyPair.Write(directory);
        }

        if (!File.Exists(apiKeyFile))
        {
            SecretFiles.WriteAllText(apiKeyFile, ApiKeys.NewKey() + "\n");
        }

        var apiKey = File.ReadAllText(apiKeyFile).Trim();
        var defaults = new Dictionary<string, string?>
        {
            ["Ota:Https:CertificatePath"] = serverCert,
            ["Ota:Https:KeyPath"] = serverKey,
            ["Ota:Devices:FleetCaPath"] = caCert,
        };
        var extra = defaults.Where(d => string.IsNullOrEmpty(configuration[d.Key])).ToDictionary();

        var keyCount = configuration.GetSection("Ota:ApiKeys").GetChildren().Count();
        extra[$"Ota:ApiKeys:{keyCount}:Name"] = "development";
        extra[$"Ota:ApiKeys:{keyCount}:Hash"] = ApiKeys.Hash(apiKey);
        extra[$"Ota:ApiKeys:{keyCount}:Scope"] = "write";
        var signingKeyCount = configuration.GetSection("Ota:Signing:PublicKeys").GetChildren().Count();
        extra[$"Ota:Signing:PublicKeys:{signingKeyCount}:Id"] = "development";
        extra[$"Ota:Signing:PublicKeys:{signingKeyCount}:Path"] = signingPublicKey;
        configuration.AddInMemoryCollection(extra);
        return new Material(directory, apiKey, deviceCert, deviceKey, caCert, signingKey);
    }
}

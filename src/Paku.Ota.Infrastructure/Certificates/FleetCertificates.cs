using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Paku.Ota.Infrastructure.Certificates;

/// <summary>Makes the certificates of a fleet: its CA, the server's TLS certificate and one client
/// certificate per device (CN = device id). ECDSA P-256 throughout: small, and fast on an ESP32.</summary>
public static class FleetCertificates
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";

    public static X509Certificate2 CreateAuthority(string commonName, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(notBefore, notAfter);
    }

    public static X509Certificate2 IssueServer(X509Certificate2 authority, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses,
        DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        var names = new SubjectAlternativeNameBuilder();
        var first = "localhost";
        foreach (var dns in dnsNames)
        {
            names.AddDnsName(dns);
            first = dns;
        }

        foreach (var address in addresses)
        {
            names.AddIpAddress(address);
        }

        return Issue(authority, first, ServerAuthOid, notBefore, notAfter, names.Build());
    }

    public static X509Certificate2 IssueDevice(X509Certificate2 authority, string deviceId, DateTimeOffset notBefore, DateTimeOffset notAfter) =>
        Issue(authority, deviceId, ClientAuthOid, notBefore, notAfter, extra: null);

    private static X509Certificate2 Issue(X509Certificate2 authority, string commonName, string usageOid,
        DateTimeOffset notBefore, DateTimeOffset notAfter, X509Extension? extra)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usageOid)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        if (extra is not null)
        {
            request.CertificateExtensions.Add(extra);
        }

        // never outlive the issuer: a chain with a child valid past its CA does not validate
        var end = notAfter < authority.NotAfter ? notAfter : new DateTimeOffset(authority.NotAfter);
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var issued = request.Create(authority, notBefore, end, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate (and its private key, when given a path) as PEM files an
    /// ESP-IDF build can embed; the key file is readable by its owner only.</summary>
    public static void WritePem(X509Certificate2 certificate, string certificatePath, string? keyPath)
    {
        SecretFiles.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(certificatePath))!);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        if (keyPath is null)
        {
            return;
        }

        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("The certificate has no ECDSA private key.");
        SecretFiles.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>Loads a PEM certificate with its PEM key (for a server or a CA that signs).</summary>
    public static X509Certificate2 LoadWithKey(string certificatePath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // re-import so the key is usable by SslStream on every platform
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    /// <summary>Loads a PEM certificate without a key (a CA to trust).</summary>
    public static X509Certificate2 LoadCertificate(string certificatePath) =>
        X509CertificateLoader.LoadCertificateFromFile(certificatePath);

    private static string Escape(string value) =>
        value.Contains(',') || value.Contains('"') || value.Contains('+') || value.Contains('=') ? $"\"{value.Replace("\"", "\\\"")}\"" : value;
}

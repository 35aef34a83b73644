using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>Certificates for chain tests, made with .NET's own X.509 builders: intermediate CAs with the
/// extensions a test needs (or lacks), device certificates from any issuer (a CA or not), and CRLs.</summary>
public static class ChainKit
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>A CA certificate (with its key) issued by <paramref name="issuer"/>; <paramref name="ca"/> false
    /// makes a certificate whose basic constraints say it is no CA, <paramref name="keyCertSign"/> false one whose
    /// key usage does not allow signing certificates.</summary>
    public static X509Certificate2 Intermediate(X509Certificate2 issuer, string name, bool ca = true, int? pathLength = 0, bool keyCertSign = true)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(ca, ca && pathLength is not null, pathLength ?? 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(
            keyCertSign ? X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign : X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var made = Sign(request, issuer, issuer.NotAfter.AddDays(-1));
        return made.CopyWithPrivateKey(key);
    }

    /// <summary>A device certificate (CN = the device id, client authentication) issued by any certificate with a key.</summary>
    public static X509Certificate2 Device(X509Certificate2 issuer, string deviceId)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={deviceId}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ClientAuthOid)], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var made = Sign(request, issuer, issuer.NotAfter.AddDays(-2));
        return made.CopyWithPrivateKey(key);
    }

    /// <summary>A self-signed CA that is not the fleet's (optionally under the fleet CA's very name).</summary>
    public static X509Certificate2 ForeignRoot(string name) =>
        Paku.Ota.Infrastructure.Certificates.FleetCertificates.CreateAuthority(name, DateTimeOffset.UtcNow.AddDays(-10), DateTimeOffset.UtcNow.AddDays(30));

    /// <summary>A CRL (PEM) signed by <paramref name="issuer"/> revoking <paramref name="revoked"/>.</summary>
    public static string Crl(X509Certificate2 issuer, IEnumerable<X509Certificate2> revoked, DateTimeOffset thisUpdate, DateTimeOffset nextUpdate, int number = 1)
    {
        var builder = new CertificateRevocationListBuilder();
        foreach (var certificate in revoked)
        {
            builder.AddEntry(certificate, thisUpdate, X509RevocationReason.KeyCompromise);
        }

        var der = builder.Build(issuer, new BigInteger(number), nextUpdate, HashAlgorithmName.SHA256, thisUpdate: thisUpdate);
        return PemEncoding.WriteString("X509 CRL", der) + "\n";
    }

    /// <summary>Signs with the issuer's key without .NET's check that the issuer is a CA, so that a test can
    /// make what a careless or hostile issuer would.</summary>
    private static X509Certificate2 Sign(CertificateRequest request, X509Certificate2 issuer, DateTimeOffset notAfter)
    {
        using var issuerKey = issuer.GetECDsaPrivateKey() ?? throw new ArgumentException("the issuer has no ECDSA private key");
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey),
            DateTimeOffset.UtcNow.AddMinutes(-5), notAfter, serial);
    }
}

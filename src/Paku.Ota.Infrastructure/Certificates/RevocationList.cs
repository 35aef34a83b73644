using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Paku.Ota.Infrastructure.Certificates;

/// <summary>
/// A certificate revocation list (RFC 5280 §5) of the fleet CA, read and checked: it must be signed by the
/// fleet CA's key (ECDSA or RSA PKCS#1 with SHA-256/384/512), name the fleet CA as its issuer, and be current
/// (thisUpdate passed, nextUpdate, when given, not yet). Holds the serial numbers it revokes. .NET's chain
/// engine on Linux cannot be handed a CRL file, so the list is read here and consulted by the chain check.
/// </summary>
public sealed class RevocationList
{
    private readonly Dictionary<string, DateTimeOffset> _revoked;

    private RevocationList(Dictionary<string, DateTimeOffset> revoked, DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate)
    {
        _revoked = revoked;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
    }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    public int Count => _revoked.Count;

    public bool IsExpiredAt(DateTimeOffset now) => NextUpdate is { } next && now > next;

    /// <summary>When <paramref name="certificate"/> (issued by the fleet CA) is on the list, the date it was revoked.</summary>
    public DateTimeOffset? RevokedOn(X509Certificate2 certificate) =>
        _revoked.TryGetValue(Serial(certificate.SerialNumberBytes.Span, bigEndian: true), out var when) ? when : null;

    /// <summary>Reads a CRL (PEM "X509 CRL" or DER) and checks it against the fleet CA; throws
    /// <see cref="InvalidDataException"/> saying what is wrong.</summary>
    public static RevocationList Parse(byte[] content, X509Certificate2 fleetCa, DateTimeOffset now)
    {
        var der = PemEncoding.TryFind(System.Text.Encoding.ASCII.GetString(content), out var pem)
            ? Convert.FromBase64String(System.Text.Encoding.ASCII.GetString(content)[pem.Base64Data])
            : content;
        try
        {
            return ParseDer(der, fleetCa, now);
        }
        catch (Exception e) when (e is AsnContentException or CryptographicException or FormatException)
        {
            throw new InvalidDataException($"it is not a readable X.509 CRL ({e.Message})", e);
        }
    }

    private static RevocationList ParseDer(byte[] der, X509Certificate2 fleetCa, DateTimeOffset now)
    {
        var list = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
        var tbsBytes = list.ReadEncodedValue();
        var signatureAlgorithm = list.ReadSequence().ReadObjectIdentifier();
        var signature = list.ReadBitString(out _);

        var tbs = new AsnReader(tbsBytes, AsnEncodingRules.DER).ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
        {
            tbs.ReadInteger();
        }

        tbs.ReadSequence(); // the signature algorithm again, inside what is signed
        var issuer = tbs.ReadEncodedValue();
        var thisUpdate = ReadTime(tbs);
        DateTimeOffset? nextUpdate = tbs.HasData && IsTime(tbs.PeekTag()) ? ReadTime(tbs) : null;

        if (!issuer.Span.SequenceEqual(fleetCa.SubjectName.RawData))
        {
            throw new InvalidDataException($"its issuer is '{new X500DistinguishedName(issuer.ToArray()).Name}', not the fleet CA '{fleetCa.Subject}'");
        }

        if (!Verifies(fleetCa, signatureAlgorithm, tbsBytes.ToArray(), signature))
        {
            throw new InvalidDataException($"its signature ({signatureAlgorithm}) does not verify with the fleet CA's key: it was not signed by the fleet CA");
        }

        if (thisUpdate > now)
        {
            throw new InvalidDataException($"it is not valid before {thisUpdate:u} (thisUpdate)");
        }

        if (nextUpdate is { } next && now > next)
        {
            throw new InvalidDataException($"it expired on {next:u} (nextUpdate): publish a new CRL from the fleet CA");
        }

        var revoked = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var entries = tbs.ReadSequence();
            while (entries.HasData)
            {
                var entry = entries.ReadSequence();
                var serial = entry.ReadIntegerBytes();
                revoked[Serial(serial.Span, bigEndian: true)] = ReadTime(entry);
            }
        }

        return new RevocationList(revoked, thisUpdate, nextUpdate);
    }

    private static bool Verifies(X509Certificate2 ca, string algorithm, byte[] data, byte[] signature)
    {
        HashAlgorithmName? hash = algorithm switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => null,
        };
        if (hash is not { } name)
        {
            throw new InvalidDataException($"its signature algorithm {algorithm} is not supported (ECDSA or RSA PKCS#1 with SHA-256/384/512)");
        }

        if (algorithm.StartsWith("1.2.840.10045.", StringComparison.Ordinal))
        {
            using var ecdsa = ca.GetECDsaPublicKey();
            return ecdsa is not null && ecdsa.VerifyData(data, signature, name, DSASignatureFormat.Rfc3279DerSequence);
        }

        using var rsa = ca.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(data, signature, name, RSASignaturePadding.Pkcs1);
    }

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();

    /// <summary>A serial number as hex without leading zero bytes (a DER INTEGER may carry one for its sign).</summary>
    private static string Serial(ReadOnlySpan<byte> bytes, bool bigEndian)
    {
        var ordered = bytes.ToArray();
        if (!bigEndian)
        {
            Array.Reverse(ordered);
        }

        var start = 0;
        while (start < ordered.Length - 1 && ordered[start] == 0)
        {
            start++;
        }

        return Convert.ToHexString(ordered, start, ordered.Length - start);
    }
}

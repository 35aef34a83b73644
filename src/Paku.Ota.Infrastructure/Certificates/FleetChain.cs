using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Paku.Ota.Infrastructure.Certificates;

/// <summary>How device certificates may chain to the fleet CA.</summary>
/// <param name="AllowIntermediates">Whether a device certificate may be issued by an intermediate CA under the
/// fleet CA (the device presents the intermediates in its TLS handshake).</param>
/// <param name="MaxIntermediates">The most intermediate CAs between the fleet CA and a device certificate.</param>
public sealed record ChainRules(bool AllowIntermediates, int MaxIntermediates);

/// <summary>
/// Judges a device certificate against the fleet CA, the only trust anchor (custom root trust: the system's
/// store plays no part, nothing is downloaded). Intermediates are taken only from what the device presented,
/// only when allowed, and only up to the configured depth; each must be a CA (basic constraints) allowed to
/// sign certificates (key usage keyCertSign) within every path length above it; the device certificate must be
/// meant for client authentication and not be a CA. A certificate the fleet CA issued (the device's, or the
/// first intermediate) that is on the fleet CA's revocation list is refused. The answer is null (accepted) or
/// the reason in words.
/// </summary>
public static class FleetChain
{
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    public static string? Refusal(X509Certificate2 leaf, IReadOnlyCollection<X509Certificate2> presented, X509Certificate2 fleetCa,
        ChainRules rules, RevocationList? revocations, DateTimeOffset now)
    {
        if (now < leaf.NotBefore.ToUniversalTime())
        {
            return $"the client certificate is not valid before {leaf.NotBefore.ToUniversalTime():u}";
        }

        if (now > leaf.NotAfter.ToUniversalTime())
        {
            return $"the client certificate expired on {leaf.NotAfter.ToUniversalTime():u}";
        }

        if (Constraints(leaf) is { CertificateAuthority: true })
        {
            return $"the client certificate ('{leaf.Subject}') is a CA certificate; a device certificate may not be one";
        }

        var intermediates = presented.Where(c => !c.RawDataMemory.Span.SequenceEqual(leaf.RawDataMemory.Span) && Constraints(c) is { CertificateAuthority: true }).ToList();
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(fleetCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthOid));
        if (rules.AllowIntermediates)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates.ToArray());
        }

        var built = chain.Build(leaf);
        var elements = chain.ChainElements.Select(e => e.Certificate).ToList();
        try
        {
            var issuedByFleetCa = elements.Count >= 2 && IsFleetCa(elements[^1], fleetCa) ? elements[^2] : null;
            if (!built || issuedByFleetCa is null)
            {
                return Describe(chain, leaf, presented, fleetCa, rules);
            }

            var depth = elements.Count - 2;
            if (depth > 0 && !rules.AllowIntermediates)
            {
                return $"the client certificate is issued by the intermediate CA '{elements[1].Subject}'; intermediate CAs are not accepted (Ota:Devices:Intermediates:Enabled)";
            }

            if (depth > rules.MaxIntermediates)
            {
                return $"the client certificate's chain has {depth} intermediate CAs under the fleet CA; at most {rules.MaxIntermediates} are accepted (Ota:Devices:Intermediates:MaxDepth)";
            }

            // basic constraints, key usage and path lengths, checked here too so that the reason can be told
            for (var i = 1; i < elements.Count; i++)
            {
                var ca = elements[i];
                var below = i - 1; // intermediate CAs between this CA and the device certificate
                if (Constraints(ca) is not { CertificateAuthority: true } constraints)
                {
                    return $"'{ca.Subject}' in the client certificate's chain is not a CA (basic constraints), so it may not issue certificates";
                }

                if (constraints.HasPathLengthConstraint && below > constraints.PathLengthConstraint)
                {
                    return $"'{ca.Subject}' allows {constraints.PathLengthConstraint} intermediate CAs under it (path length) and the chain has {below}";
                }

                if (ca.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
                {
                    return $"'{ca.Subject}' in the client certificate's chain may not sign certificates (key usage lacks keyCertSign)";
                }
            }

            if (revocations?.RevokedOn(issuedByFleetCa) is { } revokedOn)
            {
                return depth == 0
                    ? $"the client certificate (serial {leaf.SerialNumber}) was revoked on {revokedOn:u} (the fleet CA's CRL)"
                    : $"the intermediate CA '{issuedByFleetCa.Subject}' (serial {issuedByFleetCa.SerialNumber}) that issued the client certificate was revoked on {revokedOn:u} (the fleet CA's CRL)";
            }

            return null;
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    private static bool IsFleetCa(X509Certificate2 certificate, X509Certificate2 fleetCa) =>
        certificate.RawDataMemory.Span.SequenceEqual(fleetCa.RawDataMemory.Span);

    private static X509BasicConstraintsExtension? Constraints(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();

    private static string Describe(X509Chain chain, X509Certificate2 leaf, IReadOnlyCollection<X509Certificate2> presented, X509Certificate2 fleetCa, ChainRules rules)
    {
        var issuer = presented.FirstOrDefault(c => c.SubjectName.RawData.AsSpan().SequenceEqual(leaf.IssuerName.RawData));
        if (issuer is not null && !rules.AllowIntermediates)
        {
            return $"the client certificate is issued by the intermediate CA '{issuer.Subject}'; intermediate CAs are not accepted (Ota:Devices:Intermediates:Enabled)";
        }

        if (issuer is not null && Constraints(issuer) is not { CertificateAuthority: true })
        {
            return $"the client certificate's issuer '{issuer.Subject}' is not a CA (basic constraints), so it may not issue certificates";
        }

        if (issuer?.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } issuerUsage && !issuerUsage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            return $"the client certificate's issuer '{issuer.Subject}' may not sign certificates (key usage lacks keyCertSign)";
        }

        var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, status) => all | status.Status);
        foreach (var element in chain.ChainElements.Skip(1))
        {
            var ca = element.Certificate;
            if (element.ChainElementStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.NotTimeValid)))
            {
                return $"the CA '{ca.Subject}' in the client certificate's chain is not valid now (valid {ca.NotBefore.ToUniversalTime():u} to {ca.NotAfter.ToUniversalTime():u})";
            }

            if (element.ChainElementStatus.Any(s => s.Status.HasFlag(X509ChainStatusFlags.InvalidBasicConstraints)))
            {
                return Constraints(ca) is { CertificateAuthority: true } constraints && constraints.HasPathLengthConstraint
                    ? $"'{ca.Subject}' allows {constraints.PathLengthConstraint} intermediate CAs under it (path length), fewer than the chain has"
                    : $"'{ca.Subject}' in the client certificate's chain is not a CA (basic constraints), so it may not issue certificates";
            }
        }

        if (flags.HasFlag(X509ChainStatusFlags.InvalidBasicConstraints))
        {
            return "a certificate in the client certificate's chain breaks its basic constraints (not a CA, or past a path length)";
        }

        if (flags.HasFlag(X509ChainStatusFlags.NotSignatureValid))
        {
            return "a signature in the client certificate's chain does not verify";
        }

        if (flags.HasFlag(X509ChainStatusFlags.NotValidForUsage))
        {
            return $"the client certificate ('{leaf.Subject}') or a CA in its chain is not meant for this use (client authentication, or keyCertSign for a CA)";
        }

        if (!leaf.IssuerName.RawData.AsSpan().SequenceEqual(fleetCa.SubjectName.RawData) && issuer is null)
        {
            return $"the client certificate ('{leaf.Subject}', issued by '{leaf.Issuer}') is not issued by the fleet CA, and no chain to the fleet CA was presented with it";
        }

        var reasons = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
        return $"the client certificate ('{leaf.Subject}', issued by '{leaf.Issuer}') does not chain to the fleet CA{(reasons.Length > 0 ? $" ({reasons})" : "")}";
    }
}

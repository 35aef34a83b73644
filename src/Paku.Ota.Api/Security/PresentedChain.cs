using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Paku.Ota.Api.Security;

/// <summary>The certificates a client sent with its own in the TLS handshake (its intermediate CAs). Kestrel
/// keeps only the client's certificate; its client certificate callback also sees the chain built from what was
/// sent, but not the connection. So a connection middleware ahead of TLS gives each connection a holder, reachable
/// from the callback through the connection's async flow and from requests through the connection's items.
/// Nothing here is trusted: <see cref="DeviceCertificateHandler"/> still judges the chain against the fleet CA alone.</summary>
public static class PresentedChain
{
    private const string Item = "paku.tls.presented-chain";

    /// <summary>More than this many extra certificates is no device's chain; the rest are ignored.</summary>
    private const int MaxCertificates = 8;

    private static readonly AsyncLocal<StrongBox<X509Certificate2[]>?> Handshaking = new();

    /// <summary>Gives every connection of the listener a holder; call before <c>UseHttps</c>.</summary>
    public static ListenOptions CapturesPresentedChains(this ListenOptions listen)
    {
        listen.Use(next => connection =>
        {
            var holder = new StrongBox<X509Certificate2[]>([]);
            connection.Items[Item] = holder;
            Handshaking.Value = holder;
            return next(connection);
        });
        return listen;
    }

    /// <summary>For Kestrel's <c>ClientCertificateValidation</c>: keeps copies of what came with the client's
    /// certificate (the handshake disposes its chain afterwards) and accepts any certificate, which the
    /// authentication handler judges per request with a reason instead of a dropped connection.</summary>
    public static bool Keep(X509Certificate2 certificate, X509Chain? chain, System.Net.Security.SslPolicyErrors errors)
    {
        if (chain is not null && Handshaking.Value is { } holder)
        {
            holder.Value = [.. chain.ChainPolicy.ExtraStore.Concat(chain.ChainElements.Skip(1).Select(e => e.Certificate))
                .Where(c => !c.RawDataMemory.Span.SequenceEqual(certificate.RawDataMemory.Span))
                .DistinctBy(c => c.Thumbprint)
                .Take(MaxCertificates)
                .Select(c => X509CertificateLoader.LoadCertificate(c.RawData))];
        }

        return true;
    }

    public static IReadOnlyCollection<X509Certificate2> Of(HttpContext context) =>
        context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(Item, out var kept) == true && kept is StrongBox<X509Certificate2[]> { Value: { } certificates }
            ? certificates
            : [];
}

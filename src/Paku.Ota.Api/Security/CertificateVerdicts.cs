using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication;

namespace Paku.Ota.Api.Security;

/// <summary>What judging a device certificate found: the device id, or the reason it is refused.</summary>
public sealed record Judgement(string? DeviceId, string? Refusal)
{
    /// <summary>A new result per request: a cached judgement never shares a principal between requests.</summary>
    public AuthenticateResult ToResult(string scheme) =>
        DeviceId is { } id
            ? AuthenticateResult.Success(new AuthenticationTicket(
                new ClaimsPrincipal(new ClaimsIdentity([new Claim(DeviceAuthentication.DeviceIdClaim, id), new Claim(ClaimTypes.Name, id)], scheme)), scheme))
            : AuthenticateResult.Fail(new DeviceCertificateRefused(Refusal!));
}

/// <summary>Judgements of device certificates, shared by every connection: building a chain to the fleet CA is
/// most of a TLS request's server work, and a device that opens a new connection per request shows the same
/// certificate each time. The key is the certificate's bytes and the intermediates it presented (their SHA-256);
/// a judgement holds for a minute at most, never past the certificate's expiry, and only for the trust generation
/// it was made under (a reloaded CRL starts afresh). Bounded: past <see cref="MaxEntries"/> it starts empty.</summary>
public sealed class CertificateVerdicts
{
    public const int MaxEntries = 10_000;
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public Judgement? Get(X509Certificate2 certificate, IReadOnlyCollection<X509Certificate2> presented, int generation, DateTimeOffset now) =>
        _entries.TryGetValue(Key(certificate, presented), out var entry) && entry.Generation == generation && now < entry.Until
            ? entry.Judgement
            : null;

    public Judgement Keep(X509Certificate2 certificate, IReadOnlyCollection<X509Certificate2> presented, int generation, DateTimeOffset now, Judgement judgement)
    {
        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        var expires = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero);
        var until = now + Lifetime < expires ? now + Lifetime : expires;
        _entries[Key(certificate, presented)] = new Entry(judgement, generation, until);
        return judgement;
    }

    private static string Key(X509Certificate2 certificate, IReadOnlyCollection<X509Certificate2> presented)
    {
        var key = Convert.ToHexString(SHA256.HashData(certificate.RawDataMemory.Span));
        return presented.Count == 0
            ? key
            : key + "|" + string.Join("|", presented.Select(c => Convert.ToHexString(SHA256.HashData(c.RawDataMemory.Span))));
    }

    private sealed record Entry(Judgement Judgement, int Generation, DateTimeOffset Until);
}

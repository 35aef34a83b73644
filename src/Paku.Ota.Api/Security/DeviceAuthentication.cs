using System.Security.Claims;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.Extensions.Options;
using Paku.Ota.Api.Http;
using Paku.Ota.Infrastructure.Certificates;

namespace Paku.Ota.Api.Security;

public static class DeviceAuthentication
{
    public const string DeviceIdClaim = "device_id";
    public const string DeviceIdItem = "paku.device_id";

    public static AuthenticationBuilder AddDeviceCertificates(this AuthenticationBuilder builder, DeviceAuthOptions options)
    {
        X509Certificate2? fleetCa = null;
        if (!string.IsNullOrEmpty(options.FleetCaPath))
        {
            fleetCa = File.Exists(options.FleetCaPath)
                ? FleetCertificates.LoadCertificate(options.FleetCaPath)
                : throw new InvalidOperationException($"Ota:Devices:FleetCaPath points at '{options.FleetCaPath}', which does not exist.");
        }

        if (options.Intermediates.MaxDepth < 0 || options.Crl.ReloadSeconds < 1)
        {
            throw new InvalidOperationException("Ota:Devices:Intermediates:MaxDepth must be 0 or more and Ota:Devices:Crl:ReloadSeconds 1 or more.");
        }

        // resolved at start-up (ServiceHost), so that a CRL that cannot be used stops the start with the reason
        builder.Services.AddSingleton(sp => new FleetTrust(fleetCa,
            new ChainRules(options.Intermediates.Enabled, options.Intermediates.MaxDepth),
            options.Crl.Path, TimeSpan.FromSeconds(options.Crl.ReloadSeconds),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<FleetTrust>>()));
        builder.Services.AddSingleton<CertificateVerdicts>();
        builder.AddScheme<AuthenticationSchemeOptions, DeviceCertificateHandler>(CertificateAuthenticationDefaults.AuthenticationScheme, null);
        return builder;
    }

    /// <summary>The subject's CN values, read strictly: not the display name .NET falls back to (an OU, an
    /// O, an e-mail address) when there is no CN.</summary>
    public static IReadOnlyList<string> CommonNamesOf(X509Certificate2 certificate) =>
        [.. certificate.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(rdn => !rdn.HasMultipleElements && rdn.GetSingleElementType().Value == "2.5.4.3")
            .Select(rdn => rdn.GetSingleElementValue() ?? "")];

    /// <summary>Why a presented certificate was refused, in words: the reason this service gave when the
    /// chain was fine and the certificate itself was not, else what the certificate shows.</summary>
    public static string DescribeRejection(X509Certificate2? certificate, DeviceAuthOptions options, TimeProvider time, Exception? failure = null)
    {
        if (failure is DeviceCertificateRefused refused)
        {
            return refused.Message;
        }

        if (certificate is null)
        {
            return "the client certificate was refused";
        }

        DateTime notBefore, notAfter;
        try
        {
            (notBefore, notAfter) = (certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime());
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            return $"the client certificate cannot be read: {e.Message}";
        }

        var now = time.GetUtcNow();
        if (now < notBefore)
        {
            return $"the client certificate is not valid before {notBefore:u}";
        }

        if (now > notAfter)
        {
            return $"the client certificate expired on {notAfter:u}";
        }

        if (string.IsNullOrEmpty(options.FleetCaPath))
        {
            return "no fleet CA is configured on the server, so no device certificate can be trusted";
        }

        return $"the client certificate ('{certificate.Subject}', issued by '{certificate.Issuer}') is not issued by the fleet CA, or is not meant for client authentication";
    }
}

/// <summary>Judges the client certificate (from the TLS handshake, or forwarded by a trusted proxy) against the
/// fleet CA with <see cref="FleetTrust"/>: chain, intermediates the device presented, CRL; then reads the device id
/// from its one CN. A verdict is kept for the connection (one certificate per TLS connection), and for the same
/// certificate with the same presented chain on any connection (<see cref="CertificateVerdicts"/>: a device that
/// opens a new connection per request does not cost a chain build each time), until the CRL changes or a minute
/// passes. A certificate that cannot even be read (a validity date in month 13, a broken extension) is
/// a refused certificate with the reason, not a server error.</summary>
public sealed class DeviceCertificateHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, System.Text.Encodings.Web.UrlEncoder encoder,
    FleetTrust trust, CertificateVerdicts verdicts, TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private const string VerdictItem = "paku.device-certificate.verdict";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var certificate = await Context.Connection.GetClientCertificateAsync(Context.RequestAborted);
        if (certificate is null)
        {
            return AuthenticateResult.NoResult();
        }

        // the connection's items are one dictionary for all of its HTTP/2 streams: used under a lock
        var items = Context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items;
        var now = time.GetUtcNow();
        object? kept = null;
        if (items is not null)
        {
            lock (items)
            {
                items.TryGetValue(VerdictItem, out kept);
            }
        }

        if (kept is Verdict verdict && ReferenceEquals(verdict.Certificate, certificate) && verdict.Generation == trust.Generation && now < verdict.Until)
        {
            return verdict.Result;
        }

        var generation = trust.Generation;
        var presented = PresentedChain.Of(Context);
        var judgement = verdicts.Get(certificate, presented, generation, now) ?? verdicts.Keep(certificate, presented, generation, now, Judge(certificate, presented));
        var result = judgement.ToResult(Scheme.Name);
        if (items is not null)
        {
            lock (items)
            {
                items[VerdictItem] = new Verdict(certificate, generation, now.AddMinutes(1), result);
            }
        }

        return result;
    }

    private Judgement Judge(X509Certificate2 certificate, IReadOnlyCollection<X509Certificate2> presented)
    {
        string? refusal;
        try
        {
            refusal = trust.Refusal(certificate, presented);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or FormatException or ArgumentException)
        {
            refusal = $"the client certificate cannot be read: {e.Message}";
        }

        if (refusal is not null)
        {
            return new Judgement(null, refusal);
        }

        var names = DeviceAuthentication.CommonNamesOf(certificate);
        return names.Count != 1 || string.IsNullOrEmpty(names[0])
            ? new Judgement(null,
                $"the client certificate ('{certificate.Subject}') is issued by the fleet CA but has {(names.Count > 1 ? "more than one common name (CN)" : "no common name (CN)")}; its one CN must be the device id")
            : new Judgement(names[0], null);
    }

    private sealed record Verdict(X509Certificate2 Certificate, int Generation, DateTimeOffset Until, AuthenticateResult Result);
}

/// <summary>Runs before every device endpoint: works out which device is calling and refuses a
/// device acting as another. In production a valid fleet certificate is required; the development
/// profile may accept plain HTTP calls without one.</summary>
public sealed class DeviceIdentityFilter(Func<EndpointFilterInvocationContext, string?> claimedId) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var options = http.RequestServices.GetRequiredService<IOptions<DeviceAuthOptions>>().Value;
        var claimed = claimedId(context);
        var result = await http.AuthenticateAsync(CertificateAuthenticationDefaults.AuthenticationScheme);
        if (result.Succeeded)
        {
            var deviceId = result.Principal.FindFirstValue(DeviceAuthentication.DeviceIdClaim)!;
            if (claimed is not null && !string.Equals(claimed, deviceId, StringComparison.Ordinal))
            {
                return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden",
                    detail: $"The client certificate is for device '{deviceId}'; it may not act as device '{claimed}'.");
            }

            http.Items[DeviceAuthentication.DeviceIdItem] = deviceId;
            return await RefusedIfBlockedAsync(http, deviceId) ?? await next(context);
        }

        if (result.Failure is not null)
        {
            var certificate = await http.Connection.GetClientCertificateAsync();
            var reason = DeviceAuthentication.DescribeRejection(certificate, options, TimeProvider.System, result.Failure);
            return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                detail: $"Device authentication failed: {reason}.");
        }

        // plain HTTP only: over HTTPS (the device listener) a device shows its certificate even in development,
        // so that trying the device listener without one behaves as it will in production
        if (options.AllowPlainHttp && !http.Request.IsHttps)
        {
            http.Items[DeviceAuthentication.DeviceIdItem] = claimed;
            return (claimed is null ? null : await RefusedIfBlockedAsync(http, claimed)) ?? await next(context);
        }

        return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
            detail: "Device endpoints need HTTPS with a client certificate issued by the fleet CA (its CN is the device id).");
    }

    /// <summary>A blocked device is refused whatever its certificate says; the block comes from the
    /// cached catalog, so every replica refuses it within the catalog refresh.</summary>
    private static async Task<IResult?> RefusedIfBlockedAsync(HttpContext http, string deviceId)
    {
        var catalog = http.RequestServices.GetRequiredService<Application.Catalog.ICatalog>();
        return (await catalog.CurrentAsync(http.RequestAborted)).BlockOf(deviceId) is { } block
            ? Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Device blocked", detail: block.Refusal())
            : null;
    }
}

/// <summary>Accepts a client certificate forwarded by a TLS-terminating proxy, but only from the
/// configured proxy addresses; the header is ignored from anyone else.</summary>
public sealed class ForwardedClientCertificateMiddleware(RequestDelegate next, IOptions<DeviceAuthOptions> options, ILogger<ForwardedClientCertificateMiddleware> logger)
{
    private readonly string? _header = options.Value.ForwardedCertificateHeader;
    private readonly HashSet<System.Net.IPAddress> _proxies = options.Value.TrustedProxies
        .Select(p => System.Net.IPAddress.TryParse(p, out var ip) ? ip : throw new InvalidOperationException($"Ota:Devices:TrustedProxies has '{p}', which is not an IP address."))
        .Select(ip => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip)
        .ToHashSet();

    public Task InvokeAsync(HttpContext context)
    {
        if (_header is null || !context.Request.Headers.TryGetValue(_header, out var value) || string.IsNullOrEmpty(value))
        {
            return next(context);
        }

        var remote = context.Connection.RemoteIpAddress;
        if (remote is null || !_proxies.Contains(remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote))
        {
            logger.LogWarning("Ignored a forwarded client certificate from {Remote}, which is not a trusted proxy", remote);
            return next(context);
        }

        if (value.Count > 1 || Uri.UnescapeDataString(value.ToString()).Split("-----BEGIN CERTIFICATE-----").Length > 2)
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "Bad request",
                $"The request has more than one {_header} certificate; the proxy forwards exactly one client certificate.");
        }

        var certificate = Parse(value.ToString());
        if (certificate is null)
        {
            return Problems.WriteAsync(context, StatusCodes.Status400BadRequest, "Bad request",
                $"The {_header} header does not hold a certificate (expected URL-encoded PEM or base64 DER).");
        }

        context.Connection.ClientCertificate = certificate;
        context.Request.Scheme = "https"; // the proxy terminated TLS for this request
        return next(context);
    }

    private static X509Certificate2? Parse(string value)
    {
        try
        {
            var text = Uri.UnescapeDataString(value);
            return text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text));
        }
        catch (Exception e) when (e is FormatException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            return null;
        }
    }
}

/// <summary>A certificate that chains to the fleet CA but cannot identify a device; the message says why.</summary>
public sealed class DeviceCertificateRefused(string message) : Exception(message);

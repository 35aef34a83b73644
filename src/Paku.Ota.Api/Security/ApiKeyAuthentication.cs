using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Paku.Ota.Api.Http;

namespace Paku.Ota.Api.Security;

public static class AdminPolicies
{
    public const string Scheme = "ApiKey";
    public const string HeaderName = "X-API-Key";
    public const string Read = "admin:read";
    public const string Write = "admin:write";
    public const string ScopeClaim = "scope";
}

/// <summary>The configured keys, parsed once at start-up (a bad entry stops the service with the reason).</summary>
public sealed class ApiKeyRegistry
{
    private readonly (string Name, byte[] Digest, string Scope)[] _keys;

    public ApiKeyRegistry(IEnumerable<ApiKeyOptions> keys)
    {
        var list = new List<(string, byte[], string)>();
        var index = 0;
        foreach (var key in keys)
        {
            if (string.IsNullOrWhiteSpace(key.Name))
            {
                throw new InvalidOperationException($"Ota:ApiKeys:{index}:Name is empty: every API key needs a name (it is written to the audit log).");
            }

            if (!ApiKeys.TryParseHash(key.Hash, out var digest, out var error))
            {
                throw new InvalidOperationException($"Ota:ApiKeys:{index}:Hash of key '{key.Name}' is invalid: {error}.");
            }

            if (key.Scope is not ("read" or "write"))
            {
                throw new InvalidOperationException($"Ota:ApiKeys:{index}:Scope of key '{key.Name}' is '{key.Scope}'; expected read or write.");
            }

            list.Add((key.Name, digest, key.Scope));
            index++;
        }

        _keys = [.. list];
    }

    public int Count => _keys.Length;

    /// <summary>Finds the key; every configured hash is compared, in constant time each, so the time
    /// taken says nothing about which key (or how much of one) matched.</summary>
    public (string Name, string Scope)? Find(string presented)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), digest);
        (string, string)? found = null;
        foreach (var (name, expected, scope) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(digest, expected))
            {
                found = (name, scope);
            }
        }

        return found;
    }
}

public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyRegistry registry)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!Request.Headers.TryGetValue(AdminPolicies.HeaderName, out var values) || values.Count == 0 || string.IsNullOrEmpty(values[0]))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        if (values.Count > 1)
        {
            return Task.FromResult(AuthenticateResult.Fail($"Send one {AdminPolicies.HeaderName} header, not {values.Count}."));
        }

        var key = registry.Find(values[0]!);
        if (key is null)
        {
            return Task.FromResult(AuthenticateResult.Fail($"The {AdminPolicies.HeaderName} is not a known key."));
        }

        var identity = new ClaimsIdentity(
            [new Claim(ClaimTypes.Name, key.Value.Name), new Claim(AdminPolicies.ScopeClaim, key.Value.Scope)],
            AdminPolicies.Scheme);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), AdminPolicies.Scheme)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var detail = result.Failure?.Message ?? $"This endpoint needs an admin API key in the {AdminPolicies.HeaderName} header.";
        await Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, "Forbidden",
            $"The API key '{Context.User.Identity?.Name}' has read scope; this endpoint needs a key with write scope.");
}

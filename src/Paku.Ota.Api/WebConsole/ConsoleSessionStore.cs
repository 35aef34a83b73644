using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Paku.Ota.Api.WebConsole;

/// <summary>Console sessions kept on the server: the cookie carries only a random 256-bit id, so a
/// stolen cookie is useless after sign-out or expiry, and nothing about the key travels to the browser.
/// Kept in memory: a restart (or another replica) asks the operator to sign in again.</summary>
public sealed class ConsoleSessionStore(TimeProvider time) : ITicketStore
{
    private readonly ConcurrentDictionary<string, AuthenticationTicket> _sessions = new(StringComparer.Ordinal);

    public int Count => _sessions.Count;

    public Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        DropExpired();
        var id = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        _sessions[id] = ticket;
        return Task.FromResult(id);
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket)
    {
        // only a live session is renewed: one removed at sign-out stays gone
        if (_sessions.ContainsKey(key))
        {
            _sessions[key] = ticket;
        }

        return Task.CompletedTask;
    }

    public Task<AuthenticationTicket?> RetrieveAsync(string key)
    {
        if (_sessions.TryGetValue(key, out var ticket) && ticket.Properties.ExpiresUtc is { } expires && expires <= time.GetUtcNow())
        {
            _sessions.TryRemove(key, out _);
            ticket = null;
        }

        return Task.FromResult(ticket);
    }

    public Task RemoveAsync(string key)
    {
        _sessions.TryRemove(key, out _);
        return Task.CompletedTask;
    }

    private void DropExpired()
    {
        var now = time.GetUtcNow();
        foreach (var (key, ticket) in _sessions)
        {
            if (ticket.Properties.ExpiresUtc is { } expires && expires <= now)
            {
                _sessions.TryRemove(key, out _);
            }
        }
    }
}

using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Audit;
using Paku.Ota.Domain.Text;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>The audit log. What it records is often hostile input being refused, so every text is
/// made storable on the way in (<see cref="StorableText.Printable"/>): recording a refusal never fails
/// because of what was refused.</summary>
public sealed partial class AuditStore(NpgsqlDataSource dataSource) : IAuditLog
{
    public async Task RecordAsync(string actor, string action, string? target, string outcome, string? detailsJson, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into audit_log (actor, action, target, outcome, details)
            values (@actor, @action, @target, @outcome, @details::jsonb)
            """,
            new
            {
                actor = StorableText.Printable(actor),
                action = StorableText.Printable(action),
                target = StorableText.Printable(target),
                outcome = StorableText.Printable(outcome),
                details = StorableJson(detailsJson),
            },
            cancellationToken: cancellationToken));
    }

    /// <summary>Details as given, unless jsonb would refuse them: it cannot hold <c>\u0000</c> nor a
    /// <c>\uD800</c>-style escape without its pair, and no text holds U+0000 or a lone surrogate. Then the
    /// JSON is kept as printable text under <c>details_text</c>, so the entry is recorded all the same.</summary>
    internal static string? StorableJson(string? json) =>
        json is null || (!UnstorableEscape().IsMatch(json) && StorableText.IndexOfUnstorable(json) < 0)
            ? json
            : new JsonObject { ["details_text"] = StorableText.Printable(json) }.ToJsonString();

    // an escape is a backslash not itself escaped: preceded by an even number of backslashes
    [GeneratedRegex(@"(?<!\\)(?:\\\\)*(?:\\u0000|\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")]
    private static partial Regex UnstorableEscape();

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(int limit, long? beforeId, string? action, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            select id, at, actor, action, target, outcome, details::text as details
            from audit_log
            where (@beforeId::bigint is null or id < @beforeId) and (@action::text is null or action = @action)
            order by id desc
            limit @limit
            """, new { limit, beforeId, action }, cancellationToken: cancellationToken));
        return rows.Select(r => new AuditEntry(r.id, new DateTimeOffset(r.at, TimeSpan.Zero), r.actor, r.action, r.target, r.outcome, r.details)).ToList();
    }

#pragma warning disable IDE1006 // column-named row for Dapper
    private sealed record Row(long id, DateTime at, string actor, string action, string? target, string outcome, string? details);
#pragma warning restore IDE1006
}

using Dapper;
using Npgsql;
using Paku.Ota.Application.Audit;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class AuditStore(NpgsqlDataSource dataSource) : IAuditLog
{
    public async Task RecordAsync(string actor, string action, string? target, string outcome, string? detailsJson, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            insert into audit_log (actor, action, target, outcome, details)
            values (@actor, @action, @target, @outcome, @details::jsonb)
            """, new { actor, action, target, outcome, details = detailsJson }, cancellationToken: cancellationToken));
    }

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

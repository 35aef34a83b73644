using System.Text.Json;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Rollouts.Events;

namespace Paku.Ota.Infrastructure.Events;

/// <summary>A delivery claimed by this replica: the event as it is sent, and the lease that makes the
/// outcome this replica's to record.</summary>
public sealed record ClaimedDelivery(
    long EventId, string Endpoint, int Attempt, Guid Lease, string Kind, int Schema, string Rollout, string DeviceModel,
    string FirmwareVersion, string DataJson, DateTimeOffset OccurredAt);

/// <summary>The outbox's delivery side: claims due deliveries (FOR UPDATE SKIP LOCKED, so replicas never
/// take the same row, with a lease that hands it to another replica only once the claimer is presumed
/// dead), records outcomes, and lists events with their deliveries for admins.</summary>
public sealed class RolloutEventStore(NpgsqlDataSource dataSource) : IRolloutEventQueries
{
    /// <summary>Claims up to <paramref name="limit"/> due pending deliveries to <paramref name="endpoints"/>.
    /// The claim counts as an attempt and moves the delivery's next try past the lease, so a replica that
    /// stops mid-send leaves it to be sent again once the lease is over.</summary>
    public async Task<IReadOnlyList<ClaimedDelivery>> ClaimAsync(
        string[] endpoints, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var token = Guid.NewGuid();
        var rows = await connection.QueryAsync<ClaimRow>(new CommandDefinition("""
            with due as (
                select event_id, endpoint
                from rollout_event_deliveries
                where state = 'pending' and next_attempt_at <= now() and endpoint = any(@endpoints)
                order by next_attempt_at, event_id
                limit @limit
                for update skip locked
            )
            update rollout_event_deliveries d
               set attempts = d.attempts + 1, lease_token = @token, lease_until = now() + @lease,
                   next_attempt_at = now() + @lease, last_attempt_at = now()
              from due, rollout_events e
             where d.event_id = due.event_id and d.endpoint = due.endpoint and e.id = d.event_id
            returning d.event_id, d.endpoint, d.attempts, e.kind, e.schema_version, e.rollout_name, e.device_model,
                      e.firmware_version, e.data::text as data, e.occurred_at
            """, new { endpoints, limit, token, lease }, cancellationToken: cancellationToken));
        return [.. rows.Select(r => new ClaimedDelivery(
            r.event_id, r.endpoint, r.attempts, token, r.kind, r.schema_version, r.rollout_name, r.device_model, r.firmware_version, r.data,
            new DateTimeOffset(DateTime.SpecifyKind(r.occurred_at, DateTimeKind.Utc))))];
    }

    /// <summary>Records a delivery's outcome, if its lease is still this claim's; returns whether it was.</summary>
    /// <param name="retryAfter">For a failure: when to try again, or null to give the delivery up.</param>
    public async Task<bool> FinishAsync(
        ClaimedDelivery claim, bool delivered, int? status, string? error, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var updated = await connection.ExecuteAsync(new CommandDefinition("""
            update rollout_event_deliveries
               set state = case when @delivered then 'delivered' when @retryAfter::interval is null then 'given_up' else 'pending' end,
                   delivered_at = case when @delivered then now() end,
                   next_attempt_at = case when @delivered or @retryAfter::interval is null then next_attempt_at else now() + @retryAfter::interval end,
                   last_status = @status,
                   last_error = @error,
                   lease_token = null,
                   lease_until = null
             where event_id = @eventId and endpoint = @endpoint and lease_token = @lease
            """, new
        {
            delivered,
            retryAfter,
            status,
            error,
            eventId = claim.EventId,
            endpoint = claim.Endpoint,
            lease = claim.Lease,
        }, cancellationToken: cancellationToken));
        return updated == 1;
    }

    /// <summary>Hands a claimed delivery back without an outcome (the service is stopping mid-send), so
    /// that the next replica or start sends it at once instead of after the lease.</summary>
    public async Task ReleaseAsync(ClaimedDelivery claim, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            update rollout_event_deliveries
               set next_attempt_at = now(), lease_token = null, lease_until = null, last_error = 'interrupted: the sending service stopped'
             where event_id = @eventId and endpoint = @endpoint and lease_token = @lease
            """, new { eventId = claim.EventId, endpoint = claim.Endpoint, lease = claim.Lease }, cancellationToken: cancellationToken));
    }

    public async Task<IReadOnlyList<RolloutEventView>> ListAsync(RolloutEventFilter filter, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<EventRow>(new CommandDefinition("""
            select e.id, e.kind, e.schema_version, e.rollout_name, e.device_model, e.firmware_version, e.occurred_at, e.data::text as data,
                   coalesce(jsonb_agg(jsonb_build_object(
                       'endpoint', d.endpoint, 'state', d.state, 'attempts', d.attempts, 'last_attempt_at', d.last_attempt_at,
                       'last_status', d.last_status, 'last_error', d.last_error,
                       'next_attempt_at', case when d.state = 'pending' then d.next_attempt_at end,
                       'delivered_at', d.delivered_at) order by d.endpoint) filter (where d.event_id is not null), '[]'::jsonb)::text as deliveries
            from rollout_events e
            left join rollout_event_deliveries d on d.event_id = e.id
            where (@rollout::text is null or e.rollout_name = @rollout)
              and (@kind::text is null or e.kind = @kind)
              and (@beforeId::bigint is null or e.id < @beforeId)
              and (@state::text is null or exists (select 1 from rollout_event_deliveries s where s.event_id = e.id and s.state = @state))
            group by e.id
            order by e.id desc
            limit @limit
            """, new { rollout = filter.Rollout, kind = filter.Kind, beforeId = filter.BeforeId, state = filter.DeliveryState, limit = filter.Limit },
            cancellationToken: cancellationToken))).ToList();
        return [.. rows.Select(r => new RolloutEventView(
            r.id, r.kind, r.schema_version, r.rollout_name, r.device_model, r.firmware_version,
            new DateTimeOffset(DateTime.SpecifyKind(r.occurred_at, DateTimeKind.Utc)),
            JsonDocument.Parse(r.data).RootElement.Clone(),
            JsonSerializer.Deserialize<List<RolloutEventDelivery>>(r.deliveries, RolloutEventOutbox.DataJson) ?? []))];
    }

#pragma warning disable IDE1006, SA1300 // column-named rows for Dapper
    private sealed record ClaimRow(long event_id, string endpoint, int attempts, string kind, int schema_version, string rollout_name,
        string device_model, string firmware_version, string data, DateTime occurred_at);

    private sealed record EventRow(long id, string kind, int schema_version, string rollout_name, string device_model, string firmware_version,
        DateTime occurred_at, string data, string deliveries);
#pragma warning restore IDE1006, SA1300
}

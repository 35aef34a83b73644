using System.Text.Json;
using Dapper;
using Npgsql;
using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Infrastructure.Events;

/// <summary>Appends rollout events inside the caller's transaction (the outbox): the event and one
/// pending delivery per configured endpoint commit with the change that caused them, or not at all.</summary>
public sealed class RolloutEventOutbox(WebhookEndpoints endpoints)
{
    /// <summary>Payload keys are the Domain records' property names in snake_case.</summary>
    internal static readonly JsonSerializerOptions DataJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Writes <paramref name="rolloutEvent"/> in <paramref name="transaction"/>; returns its id.
    /// The rollout is found by name, so an event may name a rollout created in the same transaction.</summary>
    public async Task<long> AppendAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, RolloutEvent rolloutEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(rolloutEvent);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            with event as (
                insert into rollout_events (rollout_id, rollout_name, kind, schema_version, device_model, firmware_version, data)
                values ((select id from rollouts where name = @name), @name, @kind, @schema, @model, @version, @data::jsonb)
                returning id
            ), deliveries as (
                insert into rollout_event_deliveries (event_id, endpoint)
                select event.id, endpoint from event, unnest(@endpoints::text[]) as endpoint
            )
            select id from event
            """, new
        {
            name = rolloutEvent.RolloutName,
            kind = rolloutEvent.Kind.ToWire(),
            schema = RolloutEvent.SchemaVersion,
            model = rolloutEvent.DeviceModel,
            version = rolloutEvent.FirmwareVersion,
            data = JsonSerializer.Serialize(rolloutEvent.Data, rolloutEvent.Data.GetType(), DataJson),
            endpoints = endpoints.Names,
        }, transaction, cancellationToken: cancellationToken));
    }
}

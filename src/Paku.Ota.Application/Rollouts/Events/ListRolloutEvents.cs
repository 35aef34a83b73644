using System.Globalization;
using System.Text.Json;
using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Devices;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;

namespace Paku.Ota.Application.Rollouts.Events;

/// <summary>How one event fares at one webhook endpoint.</summary>
/// <param name="State">pending, delivered or given_up.</param>
/// <param name="NextAttemptAt">When a pending delivery is tried next (or, while one is being sent, when its lease ends).</param>
public sealed record RolloutEventDelivery(
    string Endpoint, string State, int Attempts, DateTimeOffset? LastAttemptAt, int? LastStatus, string? LastError,
    DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

public sealed record RolloutEventView(
    long Id, string Kind, int Schema, string Rollout, string DeviceModel, string FirmwareVersion, DateTimeOffset OccurredAt,
    JsonElement Data, IReadOnlyList<RolloutEventDelivery> Deliveries);

/// <summary>Which events to list: newest first, optionally of one rollout, of one kind, or with a
/// delivery in one state.</summary>
public sealed record RolloutEventFilter(string? Rollout, string? Kind, string? DeliveryState, int Limit, long? BeforeId);

public interface IRolloutEventQueries
{
    Task<IReadOnlyList<RolloutEventView>> ListAsync(RolloutEventFilter filter, CancellationToken cancellationToken);
}

/// <summary>An admin reads the rollout events and their webhook deliveries (attempts, last error, next try).
/// Query values arrive as text so that a bad one is refused by name.</summary>
public sealed record ListRolloutEvents(string? Rollout, string? Kind, string? DeliveryState, string? Limit, string? BeforeId)
    : IQuery<Result<IReadOnlyList<RolloutEventView>>>
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static readonly string[] DeliveryStates = ["pending", "delivered", "given_up"];
}

public sealed class ListRolloutEventsValidator : AbstractValidator<ListRolloutEvents>
{
    public ListRolloutEventsValidator()
    {
        RuleFor(q => q.Limit).WholeNumberField("limit", 1, ListRolloutEvents.MaxLimit);
        RuleFor(q => q.BeforeId).Custom((value, context) =>
        {
            if (value is not null && (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id < 1))
            {
                context.AddFailure("before_id", $"before_id must be a positive event id, not '{Shown(value)}'.");
            }
        });
        RuleFor(q => q.Rollout).Custom((value, context) =>
        {
            if (value is not null && !RolloutName.IsValid(value, out var error))
            {
                context.AddFailure("rollout", $"rollout: {error}.");
            }
        });
        RuleFor(q => q.Kind).Custom((value, context) =>
        {
            if (value is not null && !RolloutEventKinds.WireNames.Contains(value))
            {
                context.AddFailure("kind", $"kind must be one of {string.Join(", ", RolloutEventKinds.WireNames)}, not '{Shown(value)}'.");
            }
        });
        RuleFor(q => q.DeliveryState).Custom((value, context) =>
        {
            if (value is not null && !ListRolloutEvents.DeliveryStates.Contains(value))
            {
                context.AddFailure("delivery_state", $"delivery_state must be one of {string.Join(", ", ListRolloutEvents.DeliveryStates)}, not '{Shown(value)}'.");
            }
        });
    }

    private static string Shown(string value) => value.Length > 40 ? value[..40] + "…" : value;
}

public sealed class ListRolloutEventsHandler(IRolloutEventQueries events)
    : IQueryHandler<ListRolloutEvents, Result<IReadOnlyList<RolloutEventView>>>
{
    public async ValueTask<Result<IReadOnlyList<RolloutEventView>>> Handle(ListRolloutEvents query, CancellationToken cancellationToken) =>
        Result<IReadOnlyList<RolloutEventView>>.Ok(await events.ListAsync(
            new RolloutEventFilter(
                query.Rollout, query.Kind, query.DeliveryState,
                AdminQueryRules.WholeNumberOr(query.Limit, ListRolloutEvents.DefaultLimit),
                query.BeforeId is null ? null : long.Parse(query.BeforeId, CultureInfo.InvariantCulture)),
            cancellationToken));
}

using System.Text.Json;
using System.Text.Json.Nodes;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>A plan of phases as <c>rollouts.phase_plan</c> stores it: the admin API's wire format
/// (<c>[{"percentage": 10, "min_confirmed": 5, "max_failure_percent": 2, "min_soak_seconds": 3600}, …]</c>),
/// so that SQL written against the table reads what an operator sent.</summary>
public static class PhasePlanJson
{
    public static string ToJson(RolloutPlan plan)
    {
        var array = new JsonArray();
        foreach (var phase in plan.Phases)
        {
            var node = new JsonObject();
            if (phase.Percentage is { } percentage)
            {
                node["percentage"] = percentage;
            }
            else
            {
                node["groups"] = new JsonArray([.. phase.Groups.Order(StringComparer.Ordinal).Select(g => (JsonNode)g!)]);
            }

            node["min_confirmed"] = phase.Gates.MinConfirmed;
            if (phase.Gates.MaxFailurePercent is { } max)
            {
                node["max_failure_percent"] = max;
            }

            node["min_soak_seconds"] = (int)phase.Gates.MinSoak.TotalSeconds;
            array.Add(node);
        }

        return array.ToJsonString();
    }

    public static RolloutPlan Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        var phases = new List<RolloutPhase>();
        foreach (var element in document.RootElement.EnumerateArray())
        {
            var gates = new PhaseGates(
                element.TryGetProperty("min_confirmed", out var confirmed) ? confirmed.GetInt32() : 0,
                element.TryGetProperty("max_failure_percent", out var max) && max.ValueKind == JsonValueKind.Number ? max.GetDecimal() : null,
                TimeSpan.FromSeconds(element.TryGetProperty("min_soak_seconds", out var soak) ? soak.GetInt32() : 0));
            phases.Add(element.TryGetProperty("percentage", out var percentage)
                ? RolloutPhase.ToPercentage(percentage.GetInt32(), gates)
                : RolloutPhase.ToGroups(element.GetProperty("groups").EnumerateArray().Select(g => g.GetString()!), gates));
        }

        return RolloutPlan.Restore(phases);
    }

    /// <summary>The stored columns as the Domain's <see cref="RolloutPhasing"/>; null without a plan.</summary>
    public static RolloutPhasing? Phasing(string? planJson, int index, DateTime? startedAt, string? heldBy) =>
        planJson is null
            ? null
            : new RolloutPhasing(Parse(planJson), index, new DateTimeOffset(DateTime.SpecifyKind(startedAt ?? DateTime.UnixEpoch, DateTimeKind.Utc)), heldBy);
}

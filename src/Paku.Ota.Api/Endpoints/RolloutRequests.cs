using Paku.Ota.Application.Rollouts;

namespace Paku.Ota.Api.Endpoints;

// The request bodies as the OpenAPI document describes them. The endpoints read the bodies field by field
// (JsonFields) so that a bad field is named in the answer; these records only document the shape, and
// AdminRolloutEndpoints' field lists must name the same fields.

/// <summary>POST /api/admin/rollout/create: the seed's RolloutConfig plus the service's settings.</summary>
/// <param name="RolloutPercentage">0–100; default 100, or the first phase's percentage when <paramref name="Phases"/> are given.</param>
/// <param name="Phases">A plan: percentage phases rising to at most 100, or (target_type group) group phases each
/// adding groups; the rollout advances by itself when a phase's gates pass and halts when its failure gate fails.</param>
public sealed record CreateRolloutRequest(
    string Name,
    string FirmwareVersion,
    string DeviceModel,
    string TargetType,
    TargetFilterInput? TargetFilter,
    int? RolloutPercentage,
    bool? IsActive,
    bool? AllowDowngrade,
    FailureThresholdInput? FailureThreshold,
    AttemptDeadlineInput? AttemptDeadline,
    IReadOnlyList<PhaseRequest>? Phases);

/// <summary>PATCH /api/admin/rollout/{name}: any of these; a field left out keeps its value.</summary>
/// <param name="Phases">A new plan (the rollout enters its first phase that keeps every device it reaches), or [] to drop the plan.</param>
public sealed record ChangeRolloutRequest(
    int? RolloutPercentage,
    bool? IsActive,
    TargetFilterInput? TargetFilter,
    FailureThresholdInput? FailureThreshold,
    AttemptDeadlineInput? AttemptDeadline,
    IReadOnlyList<PhaseRequest>? Phases);

/// <summary>One phase of a plan: <paramref name="Percentage"/> or <paramref name="Groups"/>, and its gates.</summary>
/// <param name="Percentage">1–100, above the phase before.</param>
/// <param name="Groups">Groups this phase adds (target_type group only).</param>
/// <param name="MinConfirmed">Confirmed boots of the rollout needed before the next phase (default 0).</param>
/// <param name="MaxFailurePercent">Failures per 100 attempts allowed (default: the rollout's failure threshold); above it the rollout halts.</param>
/// <param name="MinSoakSeconds">Seconds the phase runs at least (default 0).</param>
public sealed record PhaseRequest(int? Percentage, IReadOnlyList<string>? Groups, int? MinConfirmed, decimal? MaxFailurePercent, int? MinSoakSeconds);

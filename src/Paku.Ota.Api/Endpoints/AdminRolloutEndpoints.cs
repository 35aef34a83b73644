using System.Security.Claims;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Paku.Ota.Api.Http;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.ChangeRollout;
using Paku.Ota.Application.Rollouts.CreateRollback;
using Paku.Ota.Application.Rollouts.CreateRollout;
using Paku.Ota.Application.Rollouts.Events;
using Paku.Ota.Application.Rollouts.GetRollout;
using Paku.Ota.Application.Rollouts.ListRollouts;
using Paku.Ota.Application.Rollouts.Phases;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Api.Endpoints;

/// <summary>The seed's rollout endpoints (create, PATCH) plus reading rollouts with their progress.
/// They bind, send and map; the rules live in the use cases.</summary>
public static class AdminRolloutEndpoints
{
    // A specific rollout may list 10,000 device ids of up to 64 characters: about 700 KB of JSON.
    private const int MaxBodyBytes = 2 * 1024 * 1024;

    // the parser accepts exactly the fields the OpenAPI document shows: both come from the body records
    private static readonly string[] CreateFields = ApiDescription.FieldsOf<CreateRolloutBody>();
    private static readonly string[] ChangeFields = ApiDescription.FieldsOf<ChangeRolloutBody>();
    private static readonly string[] FilterFields = ApiDescription.FieldsOf<TargetFilterInput>();
    private static readonly string[] ThresholdFields = ApiDescription.FieldsOf<FailureThresholdInput>();
    private static readonly string[] DeadlineFields = ApiDescription.FieldsOf<AttemptDeadlineInput>();
    private static readonly string[] PhaseFields = ApiDescription.FieldsOf<PhaseBody>();
    private static readonly string[] WindowFields = ApiDescription.FieldsOf<WindowInput>();
    private static readonly string[] PaceFields = ApiDescription.FieldsOf<PaceInput>();

    private const string CreateExample = """
        {"name": "v1.2.0-canary", "firmware_version": "1.2.0", "device_model": "esp32", "target_type": "canary",
         "rollout_percentage": 10, "is_active": true, "failure_threshold": {"percent": 5, "minimum_attempts": 20}}
        """;

    private const string ChangeExample = """{"rollout_percentage": 25, "target_filter": {"groups": ["lab", "beta"]}}""";

    public static RouteGroupBuilder MapAdminRolloutEndpoints(this RouteGroupBuilder admin)
    {
        // the bodies are read field by field to name a bad field; their records document them
        admin.MapPost("/rollout/create", CreateAsync).AdminWrite("rollout.create").WithName("CreateRollout")
            .Reads<CreateRolloutBody>(CreateExample)
            .Produces<RolloutView>(StatusCodes.Status201Created).Refuses(400, 404, 409, 413, 422);
        admin.MapPatch("/rollout/{name}", ChangeAsync).AdminWrite("rollout.change").WithName("ChangeRollout")
            .Reads<ChangeRolloutBody>(ChangeExample)
            .Produces<RolloutView>().Refuses(400, 404, 409, 413);
        admin.MapPost("/rollout/{name}/rollback", RollbackAsync).AdminWrite("rollout.rollback").WithName("CreateRollback")
            .ReadsNoBody().Produces<RolloutView>(StatusCodes.Status201Created).Refuses(400, 404, 409);
        admin.MapPost("/rollout/{name}/advance", AdvanceAsync).AdminWrite("rollout.advance").WithName("AdvanceRolloutPhase")
            .ReadsNoBody().Produces<RolloutView>().Refuses(400, 404, 409);
        admin.MapPut("/rollout/{name}/hold", (string name, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) => HoldAsync(name, true, user, mediator, ct))
            .AdminWrite("rollout.hold").WithName("HoldRolloutPhase")
            .ReadsNoBody().Produces<RolloutView>().Refuses(400, 404, 409);
        admin.MapDelete("/rollout/{name}/hold", (string name, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) => HoldAsync(name, false, user, mediator, ct))
            .AdminWrite("rollout.release_hold").WithName("ReleaseRolloutPhaseHold")
            .ReadsNoBody().Produces<RolloutView>().Refuses(400, 404, 409);
        admin.MapGet("/rollouts", ListAsync).WithName("ListRollouts").Produces<RolloutList>().Refuses(400);
        admin.MapGet("/rollout-events", ListEventsAsync).WithName("ListRolloutEvents")
            .Produces<RolloutEventList>().Refuses(400);
        admin.MapGet("/rollout/{name}", GetAsync).WithName("GetRollout").Produces<RolloutView>().Refuses(400, 404);
        return admin;
    }

    private static async Task<IResult> CreateAsync(HttpRequest request, ClaimsPrincipal user, IMediator mediator, CancellationToken cancellationToken)
    {
        var read = await JsonFields.ReadAsync(request, MaxBodyBytes, nullIsAbsent: true, cancellationToken);
        if (!read.IsSuccess)
        {
            return read.Error!.ToProblem();
        }

        var body = read.Value;
        body.AllowOnly(CreateFields);
        var command = new CreateRollout(
            body.String("name"),
            body.String("firmware_version"),
            body.String("device_model"),
            body.String("target_type"),
            Filter(body),
            body.WholeNumber("rollout_percentage"),
            body.Boolean("is_active"),
            body.Boolean("allow_downgrade"),
            Threshold(body),
            Deadline(body),
            Actor(user),
            Phases(body))
        { Windows = Windows(body), Pace = Pace(body) };
        if (body.Error is { } shape)
        {
            return shape.ToProblem();
        }

        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(rollout => Results.Created($"/api/admin/rollout/{Uri.EscapeDataString(rollout.Name)}", rollout));
    }

    private static async Task<IResult> ChangeAsync(
        string name, HttpRequest request, ClaimsPrincipal user, IMediator mediator, CancellationToken cancellationToken)
    {
        var read = await JsonFields.ReadAsync(request, MaxBodyBytes, nullIsAbsent: false, cancellationToken);
        if (!read.IsSuccess)
        {
            return read.Error!.ToProblem();
        }

        var body = read.Value;
        body.AllowOnly(ChangeFields);
        var command = new ChangeRollout(
            name,
            body.WholeNumber("rollout_percentage"),
            body.Boolean("is_active"),
            Filter(body),
            Threshold(body),
            Deadline(body),
            Actor(user),
            Phases(body))
        { Windows = Windows(body), Pace = Pace(body) };
        if (body.Error is { } shape)
        {
            return shape.ToProblem();
        }

        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(rollout => Results.Ok(rollout));
    }

    private static async Task<IResult> AdvanceAsync(string name, ClaimsPrincipal user, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new AdvancePhase(name, Actor(user)), cancellationToken);
        return result.ToHttp(rollout => Results.Ok(rollout));
    }

    private static async Task<IResult> HoldAsync(string name, bool hold, ClaimsPrincipal user, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new HoldPhase(name, hold, Actor(user)), cancellationToken);
        return result.ToHttp(rollout => Results.Ok(rollout));
    }

    private static async Task<IResult> RollbackAsync(string name, ClaimsPrincipal user, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new CreateRollback(name, Actor(user)), cancellationToken);
        return result.ToHttp(rollout => Results.Created($"/api/admin/rollout/{Uri.EscapeDataString(rollout.Name)}", rollout));
    }

    private static async Task<IResult> ListAsync(
        [FromQuery(Name = "device_model")] string? deviceModel, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListRollouts(deviceModel), cancellationToken);
        return result.ToHttp(rollouts => Results.Ok(new RolloutList(rollouts)));
    }

    private static async Task<IResult> ListEventsAsync(
        [FromQuery(Name = "rollout")] string? rollout,
        [FromQuery(Name = "kind")] string? kind,
        [FromQuery(Name = "delivery_state")] string? deliveryState,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "before_id")] string? beforeId,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListRolloutEvents(rollout, kind, deliveryState, limit, beforeId), cancellationToken);
        return result.ToHttp(events => Results.Ok(new RolloutEventList(events)));
    }

    private static async Task<IResult> GetAsync(string name, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetRollout(name), cancellationToken);
        return result.ToHttp(rollout => Results.Ok(rollout));
    }

    private static TargetFilterInput? Filter(JsonFields body)
    {
        var filter = body.Object("target_filter");
        if (filter is null)
        {
            return null;
        }

        filter.AllowOnly(FilterFields);
        return new TargetFilterInput(filter.Strings("device_ids"), filter.Strings("groups"));
    }

    private static FailureThresholdInput? Threshold(JsonFields body)
    {
        var threshold = body.Object("failure_threshold");
        if (threshold is null)
        {
            return null;
        }

        threshold.AllowOnly(ThresholdFields);
        return new FailureThresholdInput(threshold.Number("percent"), threshold.WholeNumber("minimum_attempts"));
    }

    private static AttemptDeadlineInput? Deadline(JsonFields body)
    {
        var deadline = body.Object("attempt_deadline");
        if (deadline is null)
        {
            return null;
        }

        deadline.AllowOnly(DeadlineFields);
        return new AttemptDeadlineInput(
            deadline.WholeNumber("downloading_minutes"), deadline.WholeNumber("installing_minutes"), deadline.WholeNumber("success_minutes"));
    }

    private static IReadOnlyList<PhaseInput?>? Phases(JsonFields body) =>
        body.Objects("phases")?.Select(phase =>
        {
            if (phase is null)
            {
                return null;
            }

            phase.AllowOnly(PhaseFields);
            return new PhaseInput(
                phase.WholeNumber("percentage"), phase.Strings("groups"), phase.WholeNumber("min_confirmed"),
                phase.Number("max_failure_percent"), phase.WholeNumber("min_soak_seconds"));
        }).ToList();

    private static List<WindowInput>? Windows(JsonFields body)
    {
        var windows = body.Objects("windows");
        if (windows is null || windows.Any(w => w is null))
        {
            return null; // the problem is recorded
        }

        return [.. windows.Select(window =>
        {
            window!.AllowOnly(WindowFields);
            return new WindowInput(window.Strings("days"), window.String("start"), window.String("end"), window.String("time_zone"));
        })];
    }

    private static PaceInput? Pace(JsonFields body)
    {
        var pace = body.Object("pace");
        if (pace is null)
        {
            return null;
        }

        pace.AllowOnly(PaceFields);
        return new PaceInput(pace.WholeNumber("per_minute"), pace.WholeNumber("max_in_flight"));
    }

    private static string Actor(ClaimsPrincipal user) => user.Identity?.Name ?? "unknown";

    /// <summary>The body of POST /api/admin/rollout/create: the seed's RolloutConfig plus the rollout's
    /// safety settings. target_type is specific, group, canary or all.</summary>
    /// <param name="RolloutPercentage">0–100; default 100, or the first phase's percentage when <paramref name="Phases"/> are given.</param>
    /// <param name="Phases">A plan: percentage phases rising to at most 100, or (target_type group) group phases each
    /// adding groups; the rollout advances by itself when a phase's gates pass and halts when its failure gate fails.</param>
    /// <param name="Windows">Maintenance windows (local start/end HH:mm, optional days and IANA time_zone): outside them
    /// the rollout offers nothing new and devices are told when to come back.</param>
    /// <param name="Pace">New attempts per minute and attempts in flight at most, across every replica.</param>
    public sealed record CreateRolloutBody(
        string Name,
        string FirmwareVersion,
        string DeviceModel,
        string TargetType,
        TargetFilterInput? TargetFilter = null,
        int? RolloutPercentage = null,
        bool? IsActive = null,
        bool? AllowDowngrade = null,
        FailureThresholdInput? FailureThreshold = null,
        AttemptDeadlineInput? AttemptDeadline = null,
        IReadOnlyList<PhaseBody>? Phases = null,
        IReadOnlyList<WindowInput>? Windows = null,
        PaceInput? Pace = null);

    /// <summary>The body of PATCH /api/admin/rollout/{name}: only the fields to change.</summary>
    /// <param name="Phases">A new plan (the rollout enters its first phase that keeps every device it reaches), or [] to drop the plan.</param>
    /// <param name="Windows">New maintenance windows, replacing the old as a whole; [] removes them.</param>
    /// <param name="Pace">A new pace, replacing the old as a whole; {} removes pacing.</param>
    public sealed record ChangeRolloutBody(
        int? RolloutPercentage = null,
        bool? IsActive = null,
        TargetFilterInput? TargetFilter = null,
        FailureThresholdInput? FailureThreshold = null,
        AttemptDeadlineInput? AttemptDeadline = null,
        IReadOnlyList<PhaseBody>? Phases = null,
        IReadOnlyList<WindowInput>? Windows = null,
        PaceInput? Pace = null);

    /// <summary>One phase of a plan: <paramref name="Percentage"/> or <paramref name="Groups"/>, and its gates.</summary>
    /// <param name="Percentage">1–100, above the phase before.</param>
    /// <param name="Groups">Groups this phase adds (target_type group only).</param>
    /// <param name="MinConfirmed">Confirmed boots of the rollout needed before the next phase (default 0).</param>
    /// <param name="MaxFailurePercent">Failures per 100 attempts allowed (default: the rollout's failure threshold); above it the rollout halts.</param>
    /// <param name="MinSoakSeconds">Seconds the phase runs at least (default 0).</param>
    public sealed record PhaseBody(int? Percentage = null, IReadOnlyList<string>? Groups = null, int? MinConfirmed = null,
        decimal? MaxFailurePercent = null, int? MinSoakSeconds = null);

    public sealed record RolloutList(IReadOnlyList<RolloutView> Rollouts);

    /// <summary>The answer of GET /api/admin/rollout-events: newest first.</summary>
    public sealed record RolloutEventList(IReadOnlyList<RolloutEventView> Events);
}

using System.Security.Claims;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Paku.Ota.Api.Http;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.ChangeRollout;
using Paku.Ota.Application.Rollouts.CreateRollback;
using Paku.Ota.Application.Rollouts.CreateRollout;
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

    private static readonly string[] CreateFields =
        ["name", "firmware_version", "device_model", "target_type", "target_filter", "rollout_percentage", "is_active", "allow_downgrade", "failure_threshold", "attempt_deadline", "phases", "windows", "pace"];

    private static readonly string[] ChangeFields = ["rollout_percentage", "is_active", "target_filter", "failure_threshold", "attempt_deadline", "phases", "windows", "pace"];
    private static readonly string[] PhaseFields = ["percentage", "groups", "min_confirmed", "max_failure_percent", "min_soak_seconds"];
    private static readonly string[] FilterFields = ["device_ids", "groups"];
    private static readonly string[] ThresholdFields = ["percent", "minimum_attempts"];
    private static readonly string[] DeadlineFields = ["downloading_minutes", "installing_minutes", "success_minutes"];
    private static readonly string[] WindowFields = ["days", "start", "end", "time_zone"];
    private static readonly string[] PaceFields = ["per_minute", "max_in_flight"];

    public static RouteGroupBuilder MapAdminRolloutEndpoints(this RouteGroupBuilder admin)
    {
        // the answers' and requests' shapes are declared so that the OpenAPI document shows them (the
        // bodies are read field by field to name a bad field; RolloutRequests documents them)
        admin.MapPost("/rollout/create", CreateAsync).AdminWrite("rollout.create").WithName("CreateRollout")
            .DescribesJsonBody<CreateRolloutRequest>()
            .Produces<RolloutView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        admin.MapPatch("/rollout/{name}", ChangeAsync).AdminWrite("rollout.change").WithName("ChangeRollout")
            .DescribesJsonBody<ChangeRolloutRequest>()
            .Produces<RolloutView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status404NotFound);
        admin.MapPost("/rollout/{name}/rollback", RollbackAsync).AdminWrite("rollout.rollback").WithName("CreateRollback")
            .Produces<RolloutView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapPost("/rollout/{name}/advance", AdvanceAsync).AdminWrite("rollout.advance").WithName("AdvanceRolloutPhase")
            .Produces<RolloutView>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapPut("/rollout/{name}/hold", (string name, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) => HoldAsync(name, true, user, mediator, ct))
            .AdminWrite("rollout.hold").WithName("HoldRolloutPhase")
            .Produces<RolloutView>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapDelete("/rollout/{name}/hold", (string name, ClaimsPrincipal user, IMediator mediator, CancellationToken ct) => HoldAsync(name, false, user, mediator, ct))
            .AdminWrite("rollout.release_hold").WithName("ReleaseRolloutPhaseHold")
            .Produces<RolloutView>().ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        admin.MapGet("/rollouts", ListAsync).WithName("ListRollouts");
        admin.MapGet("/rollout/{name}", GetAsync).WithName("GetRollout").Produces<RolloutView>().ProducesProblem(StatusCodes.Status404NotFound);
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
        return result.ToHttp(rollouts => Results.Ok(new { rollouts }));
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
}

using System.Globalization;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.ListReleases;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.CreateRollout;
using Paku.Ota.Application.Rollouts.ListRollouts;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>Every rollout with its live progress, and the create form (the same use case as
/// POST /api/admin/rollout/create).</summary>
public sealed class RolloutsModel(IMediator mediator, ConsoleActions actions) : PageModel
{
    public static readonly (string Value, string Label)[] TargetTypes =
    [
        ("canary", "Canary: a percentage of the model's devices"),
        ("all", "All devices of the model (or a percentage)"),
        ("group", "Device groups"),
        ("specific", "Listed devices"),
    ];

    public IReadOnlyList<RolloutView> Rollouts { get; private set; } = [];

    public IReadOnlyList<ReleaseRecord> Releases { get; private set; } = [];

    public IReadOnlyList<string> Errors { get; private set; } = [];

    public CreateForm Form { get; private set; } = new();

    public async Task OnGetAsync(CancellationToken cancellationToken) => await LoadAsync(cancellationToken);

    public async Task<IActionResult> OnPostAsync([FromForm] CreateForm form, CancellationToken cancellationToken)
    {
        Form = form;
        var errors = new List<string>();
        var release = (form.Release ?? "").Split('/', 2);
        if (release.Length != 2)
        {
            errors.Add("Choose the release the rollout offers.");
        }

        var percentage = Whole(form.Percentage, "The percentage", errors);
        var minimum = Whole(form.MinimumAttempts, "The minimum number of attempts", errors);
        decimal? threshold = null;
        if (!string.IsNullOrWhiteSpace(form.Threshold))
        {
            if (decimal.TryParse(form.Threshold, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var t))
            {
                threshold = t;
            }
            else
            {
                errors.Add($"The failure threshold must be a number such as 5 or 2.5, not '{form.Threshold}'.");
            }
        }

        if (errors.Count == 0)
        {
            var filter = form.TargetType switch
            {
                "group" => new TargetFilterInput(null, List(form.Groups)),
                "specific" => new TargetFilterInput(List(form.DeviceIds), null),
                _ => null,
            };
            var command = new CreateRollout(
                form.Name?.Trim(), release[1], release[0], form.TargetType, filter, percentage,
                !form.StartPaused, form.AllowDowngrade,
                threshold is null && minimum is null ? null : new FailureThresholdInput(threshold, minimum),
                null,
                User.Identity?.Name ?? "console");
            var result = await actions.RunAsync(command, "rollout.create", form.Name, cancellationToken);
            if (result.IsSuccess)
            {
                TempData["Flash"] = $"Rollout {result.Value.Name} created ({result.Value.State}).";
                return Redirect($"/console/rollouts/{Uri.EscapeDataString(result.Value.Name)}");
            }

            errors.AddRange(ConsoleActions.Messages(result.Error!));
            Response.StatusCode = ConsoleActions.StatusOf(result.Error!);
        }
        else
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
        }

        Errors = errors;
        await LoadAsync(cancellationToken);
        return Page();
    }

    /// <summary>A list typed into a box: commas, spaces or lines between the items.</summary>
    public static IReadOnlyList<string> List(string? text) =>
        (text ?? "").Split([',', '\n', '\r', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int? Whole(string? text, string what, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        errors.Add($"{what} must be a whole number, not '{text}'.");
        return null;
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Rollouts = (await mediator.Send(new ListRollouts(null), cancellationToken)).Value;
        Releases = [.. (await mediator.Send(new ListReleases(null, "500"), cancellationToken)).Value.Where(r => r.WithdrawnAt is null)];
    }

    public sealed class CreateForm
    {
        [FromForm(Name = "name")]
        public string? Name { get; set; }

        [FromForm(Name = "release")]
        public string? Release { get; set; }

        [FromForm(Name = "target_type")]
        public string? TargetType { get; set; } = "canary";

        [FromForm(Name = "rollout_percentage")]
        public string? Percentage { get; set; } = "10";

        [FromForm(Name = "groups")]
        public string? Groups { get; set; }

        [FromForm(Name = "device_ids")]
        public string? DeviceIds { get; set; }

        [FromForm(Name = "threshold")]
        public string? Threshold { get; set; }

        [FromForm(Name = "minimum_attempts")]
        public string? MinimumAttempts { get; set; }

        [FromForm(Name = "allow_downgrade")]
        public bool AllowDowngrade { get; set; }

        [FromForm(Name = "start_paused")]
        public bool StartPaused { get; set; }
    }
}

using System.Globalization;
using System.Text.Json;
using Mediator;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.GetRollout;

namespace Paku.Ota.Api.WebConsole.Pages;

/// <summary>One rollout: its state, progress, health against its threshold, why it halted (with the
/// figures the halt was decided on), and links to its confirmed actions.</summary>
public sealed class RolloutModel(IMediator mediator, TimeProvider time) : PageModel
{
    [BindProperty(SupportsGet = true, Name = "name")]
    public string Name { get; set; } = "";

    public RolloutView Rollout { get; private set; } = null!;

    public DateTimeOffset Now => time.GetUtcNow();

    public string TargetText => Rollout.TargetType switch
    {
        "specific" => $"{Count("device_ids")} listed devices",
        "group" => $"{Rollout.RolloutPercentage} % of groups {string.Join(", ", Rollout.TargetFilter.GetValueOrDefault("groups") ?? [])}",
        "all" => $"{Rollout.RolloutPercentage} % of all {Rollout.DeviceModel} devices",
        _ => $"a {Rollout.RolloutPercentage} % canary of {Rollout.DeviceModel} devices",
    };

    public int NextPercentage => Rollout.RolloutPercentage switch
    {
        < 1 => 1,
        < 10 => 10,
        < 25 => 25,
        < 50 => 50,
        _ => 100,
    };

    /// <summary>The figures recorded with the halt, labelled for people.</summary>
    public IReadOnlyList<(string Label, string Value)> HaltFigures
    {
        get
        {
            if (Rollout.HaltDetails is not { ValueKind: JsonValueKind.Object } details)
            {
                return [];
            }

            var labels = new (string Key, string Label, string Suffix)[]
            {
                ("failure_rate_percent", "Failure rate", " %"),
                ("threshold_percent", "Threshold", " %"),
                ("attempts", "Attempts", ""),
                ("failed", "Failed", ""),
                ("rolled_back", "Rolled back", ""),
                ("timed_out", "Timed out", ""),
                ("minimum_attempts", "Minimum attempts", ""),
                ("triggered_by", "Judged on", ""),
            };
            var figures = new List<(string, string)>();
            foreach (var (key, label, suffix) in labels)
            {
                if (details.TryGetProperty(key, out var value))
                {
                    var text = value.ValueKind == JsonValueKind.Number
                        ? value.GetDecimal().ToString("0.##", CultureInfo.InvariantCulture)
                        : value.ToString();
                    figures.Add((label, text + suffix));
                }
            }

            return figures;
        }
    }

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetRollout(Name), cancellationToken);
        if (!result.IsSuccess)
        {
            return new ViewResultOfProblem(ConsoleActions.StatusOf(result.Error!), "No such rollout", result.Error!.Detail);
        }

        Rollout = result.Value;
        return Page();
    }

    private int Count(string key) => Rollout.TargetFilter.GetValueOrDefault(key)?.Count ?? 0;
}

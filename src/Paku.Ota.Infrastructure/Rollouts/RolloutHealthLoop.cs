using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Paku.Ota.Application.Rollouts.Health;
using Paku.Ota.Application.Updates;
using Paku.Ota.Infrastructure.Events;

namespace Paku.Ota.Infrastructure.Rollouts;

public sealed class RolloutHealthOptions
{
    /// <summary>How often the rollouts whose attempts moved are judged (one query for all of them).</summary>
    public double EvaluateSeconds { get; set; } = 1;

    /// <summary>How often stuck attempts are timed out, every rollout whose attempts moved since it last changed is judged,
    /// and completed rollouts are recorded.</summary>
    public double SweepSeconds { get; set; } = 60;
}

/// <summary>Runs <see cref="RolloutHealthMonitor"/>'s passes: the rollouts that moved since the last
/// pass, and the periodic sweep, which first times out stuck attempts (<see cref="AttemptTimeouts"/>) and
/// then records the rollouts that completed (<see cref="RolloutCompletionStore"/>).
/// Off the request path, so a check or report never waits for a count.</summary>
public sealed class RolloutHealthLoop(
    RolloutHealthMonitor monitor, AttemptTimeouts timeouts, RolloutCompletionStore completions, RolloutHealthOptions options, TimeProvider time, ILogger<RolloutHealthLoop> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Math.Max(0.01, options.EvaluateSeconds)), time);
        var sweepEvery = TimeSpan.FromSeconds(Math.Max(options.EvaluateSeconds, options.SweepSeconds));
        var lastSweep = time.GetUtcNow();
        var failing = false;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                IReadOnlyList<string> halted = monitor.HasMoved ? await monitor.JudgeMovedAsync(stoppingToken) : [];
                if (time.GetUtcNow() - lastSweep >= sweepEvery)
                {
                    if (await timeouts.TimeOutOverdueAsync(stoppingToken) is > 0 and var timedOut)
                    {
                        logger.LogInformation("{Count} update attempts timed out: their devices stayed silent past their rollout's deadline", timedOut);
                    }

                    halted = [.. halted, .. await monitor.SweepAsync(stoppingToken)];
                    foreach (var name in await completions.RecordCompletionsAsync(stoppingToken))
                    {
                        logger.LogInformation("Rollout {Rollout} completed: every device it targets runs its release", name);
                    }

                    lastSweep = time.GetUtcNow();
                }

                foreach (var name in halted)
                {
                    logger.LogWarning("Rollout {Rollout} halted itself: its failures passed its threshold", name);
                }

                failing = false;
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    logger.LogWarning(e, "Rollout health could not be judged; trying again at the next pass");
                    failing = true;
                }
            }
        }
    }
}

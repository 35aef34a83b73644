using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Tests;

/// <summary>Builders with sensible defaults, so that a test states only what matters to it.</summary>
internal static class Make
{
    public static FirmwareVersion V(string text) => FirmwareVersion.Parse(text);

    public static Rollout NewRollout(
        string name = "v1.2.0-canary",
        TargetType type = TargetType.All,
        int percentage = 100,
        string version = "1.2.0",
        string model = "esp32",
        TargetFilter? filter = null,
        bool allowDowngrade = false,
        bool isActive = true,
        FailureThreshold? threshold = null)
    {
        var created = Domain.Rollouts.Rollout.Create(
            name, model, V(version), type, filter, percentage, isActive, allowDowngrade, threshold);
        return created.Succeeded
            ? created.Rollout
            : throw new InvalidOperationException("test rollout is invalid: " + string.Join("; ", created.Errors));
    }

    public static RolloutCandidate Candidate(Rollout rollout, string? minVersion = null, bool withdrawn = false) =>
        new(rollout, new ReleaseInfo(rollout.DeviceModel, rollout.Version, minVersion is null ? null : V(minVersion), withdrawn));

    public static DeviceSnapshot Device(string id = "esp32_001", string version = "1.0.0", string model = "esp32", params string[] groups) =>
        new(id, model, V(version), groups);
}

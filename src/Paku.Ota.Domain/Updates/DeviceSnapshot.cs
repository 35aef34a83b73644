using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Updates;

/// <summary>What a device check knows about the device asking.</summary>
public sealed record DeviceSnapshot(string DeviceId, string Model, FirmwareVersion CurrentVersion, IReadOnlyCollection<string> Groups);

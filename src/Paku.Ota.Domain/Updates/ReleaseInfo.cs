using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Updates;

/// <summary>The part of a firmware release that decides whether it may be offered.</summary>
/// <param name="MinVersion">Devices below this version cannot install the release (e.g. a partition layout change).</param>
/// <param name="IsWithdrawn">Pulled by an operator: never offered again, whatever rollout names it.</param>
public sealed record ReleaseInfo(string Model, FirmwareVersion Version, FirmwareVersion? MinVersion, bool IsWithdrawn);

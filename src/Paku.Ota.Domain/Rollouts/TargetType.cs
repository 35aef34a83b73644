namespace Paku.Ota.Domain.Rollouts;

public enum TargetType
{
    /// <summary>Exactly the listed device ids; the percentage does not apply.</summary>
    Specific,

    /// <summary>A percentage of the model's devices.</summary>
    Canary,

    /// <summary>A percentage of the model's devices, usually 100.</summary>
    All,

    /// <summary>A percentage of the devices in any of the listed groups.</summary>
    Group,
}

/// <summary>The wire names of <see cref="TargetType"/>: specific, canary, all, group.</summary>
public static class TargetTypes
{
    public const string WireNames = "specific, canary, all, group";

    public static bool TryParse(string? text, out TargetType type)
    {
        switch (text)
        {
            case "specific": type = TargetType.Specific; return true;
            case "canary": type = TargetType.Canary; return true;
            case "all": type = TargetType.All; return true;
            case "group": type = TargetType.Group; return true;
            default: type = default; return false;
        }
    }

    public static string ToWire(this TargetType type) => type switch
    {
        TargetType.Specific => "specific",
        TargetType.Canary => "canary",
        TargetType.All => "all",
        TargetType.Group => "group",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a target type"),
    };
}

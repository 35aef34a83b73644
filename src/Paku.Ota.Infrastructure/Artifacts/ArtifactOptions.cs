using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary><c>Ota:Artifacts</c>: where uploads put image bytes. Each image remembers its own store, so
/// changing this affects new uploads only; <c>artifacts-move</c> moves the existing ones.</summary>
public sealed class ArtifactOptions
{
    /// <summary><c>postgresql</c> (the default) or <c>directory</c>.</summary>
    public string Store { get; set; } = "postgresql";

    /// <summary>The directory of image files (required for <c>directory</c>, and wherever images already
    /// live in one); absolute, or relative to the working directory.</summary>
    public string? Directory { get; set; }

    public ArtifactStoreKind StoreKind => Parse(Store) ??
        throw new InvalidOperationException($"Ota:Artifacts:Store is '{Store}'; it must be 'postgresql' or 'directory'.");

    public static ArtifactStoreKind? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "postgresql" => ArtifactStoreKind.PostgreSql,
        "directory" => ArtifactStoreKind.Directory,
        _ => null,
    };

    public static string Name(ArtifactStoreKind kind) => kind == ArtifactStoreKind.Directory ? "directory" : "postgresql";

    /// <summary>Throws with the reason when the settings cannot work (checked at start-up).</summary>
    public ArtifactOptions Validated()
    {
        if (StoreKind == ArtifactStoreKind.Directory && string.IsNullOrWhiteSpace(Directory))
        {
            throw new InvalidOperationException("Ota:Artifacts:Store is 'directory' but Ota:Artifacts:Directory is not set; say where the image files go.");
        }

        return this;
    }
}

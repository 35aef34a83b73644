using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary>The stores this service can read, and the one uploads write to (<c>Ota:Artifacts</c>).</summary>
public sealed class ArtifactStores(PostgresArtifactStore postgres, DirectoryArtifactStore? directory, ArtifactStoreKind uploadsGoTo)
{
    public PostgresArtifactStore Postgres { get; } = postgres;

    /// <summary>Null when <c>Ota:Artifacts:Directory</c> is not set.</summary>
    public DirectoryArtifactStore? Directory { get; } = directory;

    public ArtifactStoreKind UploadsGoTo { get; } = uploadsGoTo;

    public IArtifactStore? For(ArtifactStoreKind kind) => kind == ArtifactStoreKind.Directory ? Directory : Postgres;
}

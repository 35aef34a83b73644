using Dapper;
using Npgsql;
using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary>What <c>artifacts-move</c> did: images moved, images already in the target store, and the
/// ones it could not move (each with the reason).</summary>
public sealed record MoveReport(int Moved, int AlreadyThere, IReadOnlyList<string> Failures);

/// <summary>Moves every image to one store. Each image is read from where its row says (verified),
/// written to the target (verified again), and only then is its row switched, one committed row at a
/// time: a run that stops half-way leaves every image readable, and running it again finishes the job
/// (images already in the target are skipped). The service may keep serving meanwhile. Files left in the
/// directory after a move to PostgreSQL are kept: they are whole, content-addressed copies.</summary>
public sealed class ArtifactMover(NpgsqlDataSource dataSource, ArtifactStores stores)
{
    public async Task<MoveReport> MoveAllAsync(ArtifactStoreKind target, Action<string> progress, CancellationToken cancellationToken)
    {
        var to = stores.For(target) ?? throw new InvalidOperationException(
            "The directory store is not configured: set Ota:Artifacts:Directory (or pass --directory).");
        IReadOnlyList<(string Sha256, string Store)> images;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            images = (await connection.QueryAsync<(string, string)>(new CommandDefinition(
                "select sha256, store from firmware_binaries order by sha256", cancellationToken: cancellationToken))).ToList();
        }

        int moved = 0, already = 0;
        var failures = new List<string>();
        foreach (var (sha256, storeName) in images)
        {
            var kind = ArtifactOptions.Parse(storeName);
            if (kind == target)
            {
                already++;
                continue;
            }

            try
            {
                var from = kind is { } k ? stores.For(k) : null;
                var content = from is null ? null : await from.ReadAsync(sha256, cancellationToken);
                if (content is null)
                {
                    failures.Add($"{sha256}: not found in the {storeName} store");
                    continue;
                }

                await to.PutAsync(sha256, content, cancellationToken);
                if (target == ArtifactStoreKind.Directory)
                {
                    await using var command = dataSource.CreateCommand(
                        "update firmware_binaries set store = 'directory', content = null where sha256 = $1 and store = 'postgresql'");
                    command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
                    await command.ExecuteNonQueryAsync(cancellationToken);
                }

                moved++;
                progress($"{sha256}: {storeName} -> {ArtifactOptions.Name(target)} ({content.Length} bytes, verified)");
            }
            catch (Exception e) when (e is CorruptArtifactException or IOException or UnauthorizedAccessException)
            {
                failures.Add($"{sha256}: {e.Message}");
            }
        }

        return new MoveReport(moved, already, failures);
    }
}

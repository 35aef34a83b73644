using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary>Images in PostgreSQL, <c>firmware_binaries.content</c>: the default store. Reads are verified
/// like the directory's, so a damaged row is refused too.</summary>
public sealed partial class PostgresArtifactStore(NpgsqlDataSource dataSource, ILogger<PostgresArtifactStore> logger) : IArtifactStore
{
    public ArtifactStoreKind Kind => ArtifactStoreKind.PostgreSql;

    public async Task<byte[]?> ReadAsync(string sha256, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("select content from firmware_binaries where sha256 = $1 and store = 'postgresql'");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
        if (await command.ExecuteScalarAsync(cancellationToken) is not byte[] content)
        {
            return null;
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        if (actual != sha256)
        {
            LogCorrupt(logger, sha256, actual);
            throw new CorruptArtifactException(sha256, "PostgreSQL (firmware_binaries.content)", actual);
        }

        return content;
    }

    /// <summary>Puts the bytes into the image's existing row and marks it stored here (the row is made by
    /// the upload; this is how <c>artifacts-move</c> brings an image back from a directory).</summary>
    public async Task PutAsync(string sha256, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            update firmware_binaries set content = $2, store = 'postgresql'
            where sha256 = $1 and size_bytes = $3
            """);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sha256 });
        command.Parameters.Add(new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = content, NpgsqlDbType = NpgsqlDbType.Bytea });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = content.Length });
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            throw new InvalidOperationException($"There is no image {sha256} of {content.Length} bytes in firmware_binaries to store.");
        }

        if (await ReadAsync(sha256, cancellationToken) is null)
        {
            throw new InvalidOperationException($"The image {sha256} was written to PostgreSQL but cannot be read back.");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Refused to serve image {Sha256} from PostgreSQL: its bytes hash to {Actual}. Upload the release again.")]
    private static partial void LogCorrupt(ILogger logger, string sha256, string actual);
}

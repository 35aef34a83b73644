using Dapper;
using Npgsql;
using NpgsqlTypes;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Domain.Versions;
using Paku.Ota.Infrastructure.Artifacts;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Releases and their images. Listing and lookups read <c>firmware_releases</c> only; every
/// distinct image has one row in <c>firmware_binaries</c>, holding its bytes or, with a
/// <paramref name="directory"/> to upload to, naming the directory store that holds them.</summary>
public sealed class ReleaseStore(NpgsqlDataSource dataSource, DirectoryArtifactStore? directory = null) : IReleaseStore
{
    private const string UniqueVersionConstraint = "firmware_releases_model_version_key";

    private const string Columns = """
        id, version, device_model, checksum_sha256, size_bytes, min_version, changelog, release_notes, is_signed,
        signature, signature_algorithm, signing_key_id, created_by, created_at, withdrawn_at, withdrawn_reason
        """;

    public async Task<ReleaseRecord?> CreateAsync(NewRelease release, CancellationToken cancellationToken)
    {
        // the file first, whole and flushed: a row never names a file that is not there. A refused or
        // failed release leaves at most an unreferenced, content-addressed file behind.
        if (directory is not null)
        {
            await directory.PutAsync(release.ChecksumSha256, release.Content, cancellationToken);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var binary = new NpgsqlCommand("""
            insert into firmware_binaries (sha256, size_bytes, content, store)
            values ($1, $2, $3, $4)
            on conflict (sha256) do nothing
            """, connection, transaction))
        {
            binary.Parameters.Add(new NpgsqlParameter<string> { TypedValue = release.ChecksumSha256 });
            binary.Parameters.Add(new NpgsqlParameter<long> { TypedValue = release.Content.Length });
            binary.Parameters.Add(directory is null
                ? new NpgsqlParameter<ReadOnlyMemory<byte>> { TypedValue = release.Content, NpgsqlDbType = NpgsqlDbType.Bytea }
                : new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bytea });
            binary.Parameters.Add(new NpgsqlParameter<string> { TypedValue = directory is null ? "postgresql" : "directory" });
            await binary.ExecuteNonQueryAsync(cancellationToken);
        }

        Row created;
        try
        {
            created = await connection.QuerySingleAsync<Row>(new CommandDefinition($"""
                insert into firmware_releases
                    (version, device_model, checksum_sha256, size_bytes, min_version, changelog, release_notes,
                     is_signed, signature, signature_algorithm, signing_key_id, created_by)
                values
                    (@Version, @DeviceModel, @ChecksumSha256, @SizeBytes, @MinVersion, @Changelog, @ReleaseNotes,
                     @IsSigned, @Signature, @SignatureAlgorithm, @SigningKeyId, @CreatedBy)
                returning {Columns}
                """,
                new
                {
                    release.Version,
                    release.DeviceModel,
                    release.ChecksumSha256,
                    SizeBytes = (long)release.Content.Length,
                    release.MinVersion,
                    release.Changelog,
                    release.ReleaseNotes,
                    IsSigned = release.Signature is not null,
                    release.Signature,
                    release.SignatureAlgorithm,
                    release.SigningKeyId,
                    release.CreatedBy,
                },
                transaction,
                cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.ConstraintName == UniqueVersionConstraint)
        {
            return null; // the transaction rolls back on dispose: the image is not kept either
        }

        await transaction.CommitAsync(cancellationToken);
        return created.ToRecord();
    }

    public async Task<ReleaseRecord?> FindAsync(string deviceModel, FirmwareVersion version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"""
            select {Columns}
            from firmware_releases
            where device_model = @deviceModel and version_precedence = split_part(@version, '+', 1)
            """, new { deviceModel, version = version.ToString() }, cancellationToken: cancellationToken));
        return row?.ToRecord();
    }

    public async Task<IReadOnlyList<ReleaseRecord>> ListAsync(string? deviceModel, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = deviceModel is null
            ? await connection.QueryAsync<Row>(new CommandDefinition($"""
                select {Columns}
                from firmware_releases
                order by created_at desc, id desc
                limit @limit
                """, new { limit }, cancellationToken: cancellationToken))
            : await connection.QueryAsync<Row>(new CommandDefinition($"""
                select {Columns}
                from firmware_releases
                where device_model = @deviceModel
                order by ota_semver_key(version) desc, id desc
                limit @limit
                """, new { deviceModel, limit }, cancellationToken: cancellationToken));
        return rows.Select(r => r.ToRecord()).ToList();
    }

    public async Task<Withdrawal?> WithdrawAsync(long releaseId, string? reason, string pauseReason, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition($"""
            update firmware_releases
               set withdrawn_at = now(), withdrawn_reason = @reason
             where id = @releaseId and withdrawn_at is null
            returning {Columns}
            """, new { releaseId, reason }, transaction, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        var paused = await connection.QueryAsync<string>(new CommandDefinition("""
            update rollouts
               set is_active = false, pause_reason = @pauseReason, updated_at = now()
             where release_id = @releaseId and is_active
            returning name
            """, new { releaseId, pauseReason }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return new Withdrawal(row.ToRecord(), paused.Order(StringComparer.Ordinal).ToList());
    }

#pragma warning disable IDE1006 // column-named row for Dapper
    private sealed record Row(
        long id, string version, string device_model, string checksum_sha256, long size_bytes, string? min_version, string? changelog,
        string? release_notes, bool is_signed, byte[]? signature, string? signature_algorithm, string? signing_key_id, string? created_by,
        DateTime created_at, DateTime? withdrawn_at, string? withdrawn_reason)
    {
        public ReleaseRecord ToRecord() => new(
            id, version, device_model, checksum_sha256, size_bytes, min_version, changelog, release_notes, is_signed, signature,
            signature_algorithm, signing_key_id, created_by, new DateTimeOffset(created_at, TimeSpan.Zero),
            withdrawn_at is { } withdrawn ? new DateTimeOffset(withdrawn, TimeSpan.Zero) : null, withdrawn_reason);
    }
#pragma warning restore IDE1006
}

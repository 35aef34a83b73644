using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary>Images as files, content-addressed: <c>root/ab/abcdef…</c> (the first two hex digits of the
/// SHA-256, then all of it). A file is written to a temporary name, flushed to disk, renamed into place
/// and its directory flushed, so a name only ever holds a whole image; every read hashes the bytes and
/// refuses (and logs) an image that does not match its name. Files are 0644 and directories 0755 so a
/// static file server (nginx, <c>deploy/nginx</c>) can serve them.</summary>
public sealed partial class DirectoryArtifactStore(string root, ILogger<DirectoryArtifactStore> logger) : IArtifactStore
{
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode DirectoryMode = FileMode | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    public string Root { get; } = Path.GetFullPath(root);

    public ArtifactStoreKind Kind => ArtifactStoreKind.Directory;

    /// <summary>Where the image named <paramref name="sha256"/> lives, relative to the root, with '/'.</summary>
    public static string RelativePath(string sha256) => $"{sha256[..2]}/{sha256}";

    public string PathOf(string sha256) => Path.Combine(Root, sha256[..2], sha256);

    public async Task<byte[]?> ReadAsync(string sha256, CancellationToken cancellationToken)
    {
        RequireSha(sha256);
        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(PathOf(sha256), cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        if (actual != sha256)
        {
            LogCorrupt(logger, PathOf(sha256), actual);
            throw new CorruptArtifactException(sha256, PathOf(sha256), actual);
        }

        return content;
    }

    public async Task PutAsync(string sha256, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        RequireSha(sha256);
        var actual = Convert.ToHexStringLower(SHA256.HashData(content.Span));
        if (actual != sha256)
        {
            throw new ArgumentException($"The image to store as {sha256} hashes to {actual}.", nameof(content));
        }

        var target = PathOf(sha256);
        var directory = Path.GetDirectoryName(target)!;
        try
        {
            if (await ReadAsync(sha256, cancellationToken) is not null)
            {
                return; // an intact copy is already there
            }
        }
        catch (CorruptArtifactException)
        {
            // a damaged copy is replaced below, atomically
        }

        CreateDirectory(Root);
        CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{sha256}.{Guid.NewGuid():N}.tmp");
        var create = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            create.UnixCreateMode = FileMode;
        }

        try
        {
            await using (var file = new FileStream(temporary, create))
            {
                await file.WriteAsync(content, cancellationToken);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
            FlushDirectory(directory);
        }
        finally
        {
            File.Delete(temporary); // nothing when the rename happened
        }

        if (await ReadAsync(sha256, cancellationToken) is null)
        {
            throw new IOException($"The image {sha256} was written to {target} but cannot be read back.");
        }
    }

    private static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(path);
        }
        else
        {
            System.IO.Directory.CreateDirectory(path, DirectoryMode);
        }
    }

    private static void RequireSha(string sha256)
    {
        if (sha256.Length != 64 || !sha256.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
        {
            throw new ArgumentException($"'{sha256}' is not a lower-case hex SHA-256.", nameof(sha256));
        }
    }

    /// <summary>Makes the rename durable: on Linux a directory entry reaches the disk when the directory is fsynced.</summary>
    private static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open {directory} to flush it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"Cannot flush {directory} to disk (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LoggerMessage(Level = LogLevel.Error, Message = "Refused to serve {Path}: its bytes hash to {Actual}, not to its name. Restore it from a backup or upload the release again.")]
    private static partial void LogCorrupt(ILogger logger, string path, string actual);
}

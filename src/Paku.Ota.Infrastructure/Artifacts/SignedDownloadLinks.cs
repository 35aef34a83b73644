using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Paku.Ota.Application.Firmware.Artifacts;

namespace Paku.Ota.Infrastructure.Artifacts;

/// <summary><c>Ota:Offload</c>: redirect downloads to a static file server (nginx, <c>deploy/nginx</c>).</summary>
public sealed class OffloadOptions
{
    public bool Enabled { get; set; }

    /// <summary>The file server's URL of the artifact directory, e.g. <c>https://fw.example.com/fw</c>.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>Shared with nginx's <c>secure_link_md5</c>: 32+ characters of A-Z a-z 0-9 _ -.</summary>
    public string? Secret { get; set; }

    /// <summary>How long a link stays valid (default 300 s); a device that needs longer asks again.</summary>
    public int LifetimeSeconds { get; set; } = 300;

    /// <summary>Throws with the reason when the settings cannot work (checked at start-up).</summary>
    public OffloadOptions Validated(ArtifactStores stores)
    {
        if (!Enabled)
        {
            return this;
        }

        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) || url.Scheme is not ("https" or "http") || url.Query.Length > 0)
        {
            throw new InvalidOperationException($"Ota:Offload:BaseUrl is '{BaseUrl}'; it must be an absolute http(s) URL without a query, e.g. https://fw.example.com/fw.");
        }

        if (Secret is null || Secret.Length < 32 || !Secret.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
        {
            throw new InvalidOperationException("Ota:Offload:Secret must be 32 or more characters of A-Z a-z 0-9 _ - (the same as in nginx's secure_link_md5).");
        }

        if (LifetimeSeconds is < 10 or > 86400)
        {
            throw new InvalidOperationException($"Ota:Offload:LifetimeSeconds is {LifetimeSeconds}; it must be from 10 to 86400.");
        }

        if (stores.Directory is null)
        {
            throw new InvalidOperationException("Ota:Offload:Enabled needs the artifact directory the file server serves: set Ota:Artifacts:Directory (and Ota:Artifacts:Store=directory).");
        }

        return this;
    }
}

/// <summary>Links in the form nginx's <c>secure_link</c> module checks with
/// <c>secure_link $arg_md5,$arg_expires; secure_link_md5 "$secure_link_expires$uri SECRET";</c>:
/// <c>BASE/ab/abcdef…?md5=TOKEN&amp;expires=UNIX</c>, TOKEN the unpadded base64url MD5 of
/// <c>"{expires}{path} {secret}"</c>. MD5 is what nginx offers; the secret, not the hash, makes the link
/// unforgeable, and the image's SHA-256 in the path and on the device still guards the bytes.</summary>
public sealed class SignedDownloadLinks(OffloadOptions options, ArtifactStores stores) : IDownloadLinks
{
    private readonly Uri? _base = options.Enabled ? new Uri(options.BaseUrl!.TrimEnd('/') + "/") : null;

    public Uri? LinkFor(string sha256, long sizeBytes, DateTimeOffset now)
    {
        if (_base is null || stores.Directory is not { } directory)
        {
            return null;
        }

        // only what the file server can send whole; anything else is streamed by the service, which verifies it
        var file = new FileInfo(directory.PathOf(sha256));
        if (!file.Exists || file.Length != sizeBytes)
        {
            return null;
        }

        var expires = (now.ToUnixTimeSeconds() + options.LifetimeSeconds).ToString(CultureInfo.InvariantCulture);
        var path = _base.AbsolutePath + DirectoryArtifactStore.RelativePath(sha256);
        var token = Token(expires, path, options.Secret!);
        return new Uri(_base, $"{path}?md5={token}&expires={expires}");
    }

    public static string Token(string expires, string path, string secret)
    {
#pragma warning disable CA5351 // nginx's secure_link_md5 defines the hash; the secret is what protects the link
        var hash = MD5.HashData(Encoding.UTF8.GetBytes($"{expires}{path} {secret}"));
#pragma warning restore CA5351
        return Convert.ToBase64String(hash).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}

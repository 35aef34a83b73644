using System.Security.Cryptography;

namespace Paku.Ota.Api.WebConsole;

/// <summary>The console's stylesheet and script, embedded in the assembly (no build chain, nothing to
/// deploy beside the executable) and served with a content hash, so a browser caches them until they change.</summary>
public static class ConsoleAssets
{
    private static readonly Dictionary<string, (byte[] Content, string Type, string ETag)> Files = Load();

    /// <summary>The URL of an asset with its version, for the layout.</summary>
    public static string Url(string file) =>
        Files.TryGetValue(file, out var asset) ? $"{ConsoleSetup.PathBase}/assets/{file}?v={asset.ETag.Trim('"')}" : $"{ConsoleSetup.PathBase}/assets/{file}";

    public static IResult Serve(string file, HttpContext http)
    {
        if (!Files.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }

        http.Response.Headers.CacheControl = "public, max-age=86400";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.Bytes(asset.Content, asset.Type, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue(asset.ETag));
    }

    private static Dictionary<string, (byte[], string, string)> Load()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var files = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        foreach (var (file, type) in new[] { ("console.css", "text/css; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream($"Paku.Ota.Api.WebConsole.Assets.{file}")
                ?? throw new InvalidOperationException($"The console asset {file} is not embedded.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var content = buffer.ToArray();
            files[file] = (content, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..16]}\"");
        }

        return files;
    }
}

using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>What the firmware admin tests share: images, multipart bodies, signing keys made on the
/// spot (never committed), and a look at what the tables hold.</summary>
public static class FirmwareTestKit
{
    public const string Upload = "/api/admin/firmware/upload";

    /// <summary>An image that passes the ESP app-image check: 0xE9, then bytes that depend on <paramref name="seed"/>.</summary>
    public static byte[] EspImage(int size = 4096, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0xE9;
        return bytes;
    }

    public static MultipartFormDataContent Form(byte[]? file, byte[]? signature = null, string filePart = "file", string signaturePart = "signature")
    {
        var form = new MultipartFormDataContent();
        if (file is not null)
        {
            var content = new ByteArrayContent(file);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(content, filePart, "firmware.bin");
        }

        if (signature is not null)
        {
            form.Add(new ByteArrayContent(signature), signaturePart, "firmware.sig");
        }

        return form;
    }

    public static Task<HttpResponseMessage> UploadAsync(this HttpClient client, string query, byte[]? file, byte[]? signature = null) =>
        client.PostAsync($"{Upload}?{query}", Form(file, signature));

    /// <summary>The problem's detail plus every field message, for asserting that the reason is named.</summary>
    public static async Task<string> ProblemTextAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), body);
        return body;
    }

    public static async Task<IReadOnlyList<string>> ProblemFieldsAsync(this HttpResponseMessage response)
    {
        var problem = await response.JsonAsync();
        return problem.TryGetProperty("errors", out var errors) ? errors.EnumerateObject().Select(p => p.Name).ToList() : [];
    }

    public static async Task<(long Binaries, long Releases)> CountAsync(TestDatabase db)
    {
        await using var connection = await db.DataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<long>("select count(*) from firmware_binaries"),
                await connection.ExecuteScalarAsync<long>("select count(*) from firmware_releases"));
    }

    public static async Task AssertNothingStoredAsync(TestDatabase db)
    {
        var (binaries, releases) = await CountAsync(db);
        Assert.That((binaries, releases), Is.EqualTo((0L, 0L)), "firmware_binaries and firmware_releases must stay empty");
    }

    public static byte[] SignRsa(RSA key, byte[] content) => key.SignData(content, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    public static byte[] SignEcdsa(ECDsa key, byte[] content) =>
        key.SignData(content, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

    public static string Sha256Hex(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    /// <summary>Runs a tool (openssl, curl) and returns its standard output; fails the test with its
    /// standard error when it exits non-zero.</summary>
    public static async Task<string> RunAsync(string file, string arguments, string workingDirectory, bool mustSucceed = true)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (mustSucceed && process.ExitCode != 0)
        {
            Assert.Fail($"{file} {arguments} exited with {process.ExitCode}: {await stderr}");
        }

        return await stdout;
    }

    public static async Task<string> BashAsync(string script, string workingDirectory, bool mustSucceed = true)
    {
        var start = new ProcessStartInfo("bash", ["-c", script])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (mustSucceed && process.ExitCode != 0)
        {
            Assert.Fail($"bash -c '{script}' exited with {process.ExitCode}: {await stderr}");
        }

        return await stdout;
    }
}

/// <summary>Signing keys made for one fixture in a temp folder that is deleted with it: an RSA-2048 and
/// an ECDSA P-256 key whose public halves the service is configured with, and a stranger key it does not know.</summary>
public sealed class TestSigningKeys : IDisposable
{
    public TestSigningKeys()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("paku-signing-").FullName;
        RsaPublicPath = Path.Combine(Directory, "rsa-public.pem");
        EcPublicPath = Path.Combine(Directory, "ec-public.pem");
        File.WriteAllText(RsaPublicPath, Rsa.ExportSubjectPublicKeyInfoPem());
        File.WriteAllText(EcPublicPath, Ec.ExportSubjectPublicKeyInfoPem());
    }

    public string Directory { get; }

    public RSA Rsa { get; } = RSA.Create(2048);

    public ECDsa Ec { get; } = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public RSA Stranger { get; } = RSA.Create(2048);

    public string RsaPublicPath { get; }

    public string EcPublicPath { get; }

    /// <summary>Settings that configure both public keys, as "rsa-2026" and "ec-2026".</summary>
    public Dictionary<string, string?> Settings(bool requireSigned = false) => new()
    {
        ["Ota:Signing:RequireSigned"] = requireSigned ? "true" : "false",
        ["Ota:Signing:PublicKeys:0:Id"] = "rsa-2026",
        ["Ota:Signing:PublicKeys:0:Path"] = RsaPublicPath,
        ["Ota:Signing:PublicKeys:1:Id"] = "ec-2026",
        ["Ota:Signing:PublicKeys:1:Path"] = EcPublicPath,
    };

    public void Dispose()
    {
        Rsa.Dispose();
        Ec.Dispose();
        Stranger.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

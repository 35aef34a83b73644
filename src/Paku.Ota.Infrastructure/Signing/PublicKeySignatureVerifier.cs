using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Paku.Ota.Application.Firmware;

namespace Paku.Ota.Infrastructure.Signing;

/// <summary><c>Ota:Signing</c>: the public keys firmware signatures are verified against (several at
/// once, so a key can be rotated), and whether unsigned uploads are refused.</summary>
public sealed class SigningOptions
{
    public bool RequireSigned { get; set; }

    public List<SigningKeyOptions> PublicKeys { get; set; } = [];
}

/// <summary>One public key: the id stored with each release it verified, and the PEM file it is read from.</summary>
public sealed class SigningKeyOptions
{
    public string? Id { get; set; }

    public string? Path { get; set; }
}

/// <summary>Verifies <c>openssl dgst -sha256 -sign</c> output: RSA (2048 to 4096 bits, as the device
/// component accepts) with PKCS#1 v1.5 padding, or ECDSA P-256 with the DER signature openssl writes.
/// Keys are read once, when the service starts; a key that cannot be used stops the start with the reason.</summary>
public sealed class PublicKeySignatureVerifier : ISignatureVerifier, IDisposable
{
    private const string RsaOid = "1.2.840.113549.1.1.1";
    private const string EcOid = "1.2.840.10045.2.1";

    private readonly Key[] _keys;

    private PublicKeySignatureVerifier(bool requireSigned, Key[] keys)
    {
        RequireSigned = requireSigned;
        _keys = keys;
        KeyIds = [.. keys.Select(k => k.Id)];
    }

    public bool RequireSigned { get; }

    public IReadOnlyList<string> KeyIds { get; }

    /// <summary>Reads every configured key; throws <see cref="InvalidOperationException"/> naming the
    /// setting and the reason when one cannot be used.</summary>
    public static PublicKeySignatureVerifier Load(SigningOptions options)
    {
        var keys = new List<Key>();
        try
        {
            for (var index = 0; index < options.PublicKeys.Count; index++)
            {
                var key = LoadKey(options.PublicKeys[index], $"Ota:Signing:PublicKeys:{index}");
                if (keys.Any(k => k.Id == key.Id))
                {
                    key.Dispose();
                    throw new InvalidOperationException($"Ota:Signing:PublicKeys:{index}:Id '{key.Id}' is used by another key; key ids must be unique.");
                }

                keys.Add(key);
            }
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }

        if (options.RequireSigned && keys.Count == 0)
        {
            throw new InvalidOperationException(
                "Ota:Signing:RequireSigned is true, but no key is configured in Ota:Signing:PublicKeys (Id and Path of a PEM public key), so no upload could be accepted.");
        }

        return new PublicKeySignatureVerifier(options.RequireSigned, [.. keys]);
    }

    public VerifiedSignature? Verify(ReadOnlySpan<byte> sha256, ReadOnlySpan<byte> signature)
    {
        if (sha256.Length != SHA256.HashSizeInBytes || signature.IsEmpty)
        {
            return null;
        }

        foreach (var key in _keys)
        {
            if (key.Verify(sha256, signature))
            {
                return new VerifiedSignature(key.Id, key.Algorithm);
            }
        }

        return null;
    }

    public void Dispose()
    {
        foreach (var key in _keys)
        {
            key.Dispose();
        }
    }

    private static Key LoadKey(SigningKeyOptions options, string setting)
    {
        if (string.IsNullOrWhiteSpace(options.Id))
        {
            throw new InvalidOperationException($"{setting}:Id is empty: every signing key needs an id (it is stored with the releases it verifies).");
        }

        if (string.IsNullOrWhiteSpace(options.Path))
        {
            throw new InvalidOperationException($"{setting}:Path is empty: give the path of key '{options.Id}' as a PEM public key file.");
        }

        var path = System.IO.Path.GetFullPath(options.Path);
        string pem;
        try
        {
            pem = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}:Path: the public key '{options.Id}' cannot be read from {path}: {e.Message}", e);
        }

        try
        {
            return Parse(options.Id, pem);
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            throw new InvalidOperationException($"{setting}:Path: {path} (key '{options.Id}') is not a usable public key: {e.Message}", e);
        }
    }

    private static Key Parse(string id, string pem)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new FormatException("it holds no PEM block (expected -----BEGIN PUBLIC KEY-----, as `openssl rsa -pubout` or `openssl ec -pubout` writes)");
        }

        var label = pem[fields.Label];
        if (label.Contains("PRIVATE", StringComparison.Ordinal))
        {
            throw new FormatException(
                $"it is a private key ({label}); configure the public key (`openssl rsa -pubout` / `openssl ec -pubout`) and keep the private key off the server");
        }

        if (label == "RSA PUBLIC KEY")
        {
            var pkcs1 = RSA.Create();
            try
            {
                pkcs1.ImportFromPem(pem);
            }
            catch
            {
                pkcs1.Dispose();
                throw;
            }

            return RsaKey(id, pkcs1);
        }

        if (label != "PUBLIC KEY")
        {
            throw new FormatException($"its PEM block is '{label}'; expected PUBLIC KEY (or RSA PUBLIC KEY)");
        }

        var der = Convert.FromBase64String(pem[fields.Base64Data]);
        var publicKey = PublicKey.CreateFromSubjectPublicKeyInfo(der, out _);
        return publicKey.Oid.Value switch
        {
            RsaOid => RsaKey(id, publicKey.GetRSAPublicKey()!),
            EcOid => EcKey(id, publicKey.GetECDsaPublicKey()!),
            var other => throw new FormatException($"it is a key of algorithm {other} ({publicKey.Oid.FriendlyName}); only RSA and ECDSA P-256 keys are supported"),
        };
    }

    private static Key RsaKey(string id, RSA rsa)
    {
        if (rsa.KeySize is < 2048 or > 4096)
        {
            var size = rsa.KeySize;
            rsa.Dispose();
            throw new FormatException($"it is an RSA key of {size} bits; RSA keys must have 2048 to 4096 bits");
        }

        return new Key(id, SignatureAlgorithms.RsaPkcs1Sha256, rsa, null);
    }

    private static Key EcKey(string id, ECDsa ecdsa)
    {
        var curve = ecdsa.ExportParameters(false).Curve;
        if (curve.Oid.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
        {
            ecdsa.Dispose();
            throw new FormatException($"it is an EC key on curve {curve.Oid.FriendlyName ?? curve.Oid.Value}; only P-256 (prime256v1) is supported");
        }

        return new Key(id, SignatureAlgorithms.EcdsaP256Sha256, null, ecdsa);
    }

    /// <summary>One key; verifications are serialised per key because the platform key objects are not
    /// documented as safe for concurrent use (uploads are rare, so this costs nothing).</summary>
    private sealed class Key(string id, string algorithm, RSA? rsa, ECDsa? ecdsa) : IDisposable
    {
        private readonly Lock _gate = new();

        public string Id { get; } = id;

        public string Algorithm { get; } = algorithm;

        public bool Verify(ReadOnlySpan<byte> sha256, ReadOnlySpan<byte> signature)
        {
            lock (_gate)
            {
                try
                {
                    return rsa is not null
                        ? rsa.VerifyHash(sha256, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                        : ecdsa!.VerifyHash(sha256, signature, DSASignatureFormat.Rfc3279DerSequence);
                }
                catch (CryptographicException)
                {
                    return false; // malformed signature bytes: simply not a signature by this key
                }
            }
        }

        public void Dispose()
        {
            rsa?.Dispose();
            ecdsa?.Dispose();
        }
    }
}

/// <summary>Loads the signing keys (and checks the upload limit) while the service starts, so a bad
/// setting stops the start with its reason instead of failing the first upload.</summary>
internal sealed class FirmwareSettingsCheck(
    ISignatureVerifier verifier, Application.Firmware.UploadRelease.UploadOptions upload, Artifacts.OffloadOptions offload)
    : Microsoft.Extensions.Hosting.IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = verifier.KeyIds;
        _ = upload.MaxBytes;
        _ = offload.Enabled; // resolving it validated Ota:Artifacts and Ota:Offload
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

using System.Security.Cryptography;
using Paku.Ota.Infrastructure.Certificates;

namespace Paku.Ota.Infrastructure.Signing;

/// <summary>A firmware signing key pair as <c>openssl genrsa 2048</c> and <c>openssl rsa -pubout</c> make them:
/// <c>signing.key</c> (PKCS#8 PEM, owner-only; it signs with <c>openssl dgst -sha256 -sign signing.key</c>)
/// and <c>signing.pub</c> (the public half that <c>Ota:Signing:PublicKeys:N:Path</c> names).</summary>
public static class SigningKeyPair
{
    public const string PrivateFile = "signing.key";
    public const string PublicFile = "signing.pub";

    public static void Write(string directory)
    {
        SecretFiles.CreateDirectory(directory);
        using var rsa = RSA.Create(2048);
        SecretFiles.WriteAllText(Path.Combine(directory, PrivateFile), rsa.ExportPkcs8PrivateKeyPem() + "\n");
        File.WriteAllText(Path.Combine(directory, PublicFile), rsa.ExportSubjectPublicKeyInfoPem() + "\n");
    }
}

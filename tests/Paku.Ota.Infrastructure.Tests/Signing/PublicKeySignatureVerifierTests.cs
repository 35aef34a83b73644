using System.Security.Cryptography;
using Paku.Ota.Infrastructure.Signing;

namespace Paku.Ota.Infrastructure.Tests.Signing;

/// <summary>Keys are made here and written to a temp folder that is deleted afterwards.</summary>
public sealed class PublicKeySignatureVerifierTests
{
    private static readonly byte[] Image = [0xE9, 1, 2, 3, 4, 5, 6, 7];
    private static readonly byte[] ImageHash = SHA256.HashData(Image);

    private string _dir = null!;

    [SetUp]
    public void MakeFolder() => _dir = Directory.CreateTempSubdirectory("paku-keys-").FullName;

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Rsa_pkcs1_and_ecdsa_der_signatures_verify_with_the_key_that_made_them()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var verifier = Load(("rsa", Pem("rsa.pem", rsa.ExportSubjectPublicKeyInfoPem())), ("ec", Pem("ec.pem", ec.ExportSubjectPublicKeyInfoPem())));

        var byRsa = verifier.Verify(ImageHash, rsa.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        var byEc = verifier.Verify(ImageHash, ec.SignData(Image, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

        Assert.That(byRsa, Is.EqualTo(new Application.Firmware.VerifiedSignature("rsa", "rsa-pkcs1v15-sha256")));
        Assert.That(byEc, Is.EqualTo(new Application.Firmware.VerifiedSignature("ec", "ecdsa-p256-sha256")));
        Assert.That(verifier.KeyIds, Is.EqualTo(new[] { "rsa", "ec" }));
    }

    [Test]
    public void During_a_rotation_both_the_old_and_the_new_key_verify_and_say_which_they_are()
    {
        using var old = RSA.Create(2048);
        using var next = RSA.Create(3072);
        using var verifier = Load(("2025", Pem("old.pem", old.ExportSubjectPublicKeyInfoPem())), ("2026", Pem("new.pem", next.ExportSubjectPublicKeyInfoPem())));

        Assert.That(verifier.Verify(ImageHash, old.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))?.KeyId, Is.EqualTo("2025"));
        Assert.That(verifier.Verify(ImageHash, next.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))?.KeyId, Is.EqualTo("2026"));
    }

    [Test]
    public void A_signature_that_is_not_der_or_is_pss_or_is_of_other_bytes_does_not_verify()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var verifier = Load(("rsa", Pem("rsa.pem", rsa.ExportSubjectPublicKeyInfoPem())), ("ec", Pem("ec.pem", ec.ExportSubjectPublicKeyInfoPem())));

        Assert.Multiple(() =>
        {
            Assert.That(verifier.Verify(ImageHash, ec.SignData(Image, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)), Is.Null);
            Assert.That(verifier.Verify(ImageHash, rsa.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pss)), Is.Null);
            Assert.That(verifier.Verify(SHA256.HashData([1, 2, 3]), rsa.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)), Is.Null);
            Assert.That(verifier.Verify(ImageHash, [0x30, 0x02, 0x01]), Is.Null);
            Assert.That(verifier.Verify(ImageHash, []), Is.Null);
            Assert.That(verifier.Verify(ImageHash, new byte[600]), Is.Null);
        });
    }

    [Test]
    public void A_pkcs1_rsa_public_key_file_is_accepted()
    {
        using var rsa = RSA.Create(2048);
        using var verifier = Load(("pkcs1", Pem("pkcs1.pem", rsa.ExportRSAPublicKeyPem())));

        Assert.That(verifier.Verify(ImageHash, rsa.SignData(Image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))?.KeyId, Is.EqualTo("pkcs1"));
    }

    [Test]
    public void Keys_made_and_signatures_made_by_openssl_verify()
    {
        Run("openssl genrsa -out rsa.key 2048 && openssl rsa -in rsa.key -pubout -out rsa.pub");
        Run("openssl ecparam -name prime256v1 -genkey -noout -out ec.key && openssl ec -in ec.key -pubout -out ec.pub");
        File.WriteAllBytes(Path.Combine(_dir, "firmware.bin"), Image);
        Run("openssl dgst -sha256 -sign rsa.key -out rsa.sig firmware.bin && openssl dgst -sha256 -sign ec.key -out ec.sig firmware.bin");
        using var verifier = Load(("rsa", Path.Combine(_dir, "rsa.pub")), ("ec", Path.Combine(_dir, "ec.pub")));

        Assert.That(verifier.Verify(ImageHash, File.ReadAllBytes(Path.Combine(_dir, "rsa.sig")))?.Algorithm, Is.EqualTo("rsa-pkcs1v15-sha256"));
        Assert.That(verifier.Verify(ImageHash, File.ReadAllBytes(Path.Combine(_dir, "ec.sig")))?.Algorithm, Is.EqualTo("ecdsa-p256-sha256"));
    }

    [Test]
    public void No_keys_is_a_valid_setting_that_verifies_nothing()
    {
        using var verifier = PublicKeySignatureVerifier.Load(new SigningOptions());

        Assert.That(verifier.KeyIds, Is.Empty);
        Assert.That(verifier.RequireSigned, Is.False);
        Assert.That(verifier.Verify(ImageHash, [1, 2, 3]), Is.Null);
    }

    [Test]
    public void Unusable_settings_are_refused_with_the_setting_and_the_reason()
    {
        using var small = RSA.Create(1024);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var good = RSA.Create(2048);
        using var dsa = DSA.Create(2048);
        var goodPath = Pem("good.pem", good.ExportSubjectPublicKeyInfoPem());

        Assert.Multiple(() =>
        {
            Assert.That(Refusal(("", goodPath)), Does.Contain("Ota:Signing:PublicKeys:0:Id is empty"));
            Assert.That(Refusal(("k", "")), Does.Contain("Ota:Signing:PublicKeys:0:Path is empty"));
            Assert.That(Refusal(("k", Path.Combine(_dir, "missing.pem"))), Does.Contain("cannot be read from").And.Contain("missing.pem"));
            Assert.That(Refusal(("k", _dir)), Does.Contain("cannot be read from"));
            Assert.That(Refusal(("k", Pem("small.pem", small.ExportSubjectPublicKeyInfoPem()))), Does.Contain("RSA key of 1024 bits"));
            Assert.That(Refusal(("k", Pem("p384.pem", p384.ExportSubjectPublicKeyInfoPem()))), Does.Contain("only P-256"));
            Assert.That(Refusal(("k", Pem("dsa.pem", dsa.ExportSubjectPublicKeyInfoPem()))), Does.Contain("only RSA and ECDSA P-256"));
            Assert.That(Refusal(("k", Pem("private.pem", good.ExportRSAPrivateKeyPem()))), Does.Contain("is a private key (RSA PRIVATE KEY)"));
            Assert.That(Refusal(("k", Pem("cert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))), Does.Contain("'CERTIFICATE'"));
            Assert.That(Refusal(("k", Pem("empty.pem", ""))), Does.Contain("holds no PEM block"));
            Assert.That(Refusal(("k", Pem("junk.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))), Does.Contain("not a usable public key"));
            Assert.That(Refusal(("a", goodPath), ("a", goodPath)), Does.Contain("Ota:Signing:PublicKeys:1:Id 'a' is used by another key"));
            Assert.That(Refusal(("a", goodPath), ("b", Path.Combine(_dir, "nope.pem"))), Does.Contain("Ota:Signing:PublicKeys:1:Path"));
        });
    }

    [Test]
    public void Require_signed_without_keys_is_refused()
    {
        var refusal = Assert.Throws<InvalidOperationException>(() => PublicKeySignatureVerifier.Load(new SigningOptions { RequireSigned = true }));

        Assert.That(refusal!.Message, Does.Contain("RequireSigned is true, but no key is configured"));
    }

    private string Pem(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static PublicKeySignatureVerifier Load(params (string Id, string Path)[] keys) =>
        PublicKeySignatureVerifier.Load(new SigningOptions { PublicKeys = [.. keys.Select(k => new SigningKeyOptions { Id = k.Id, Path = k.Path })] });

    private static string Refusal(params (string Id, string Path)[] keys) =>
        Assert.Throws<InvalidOperationException>(() => Load(keys).Dispose())!.Message;

    private void Run(string script)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", ["-c", script])
        {
            WorkingDirectory = _dir,
            RedirectStandardError = true,
        })!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.That(process.ExitCode, Is.Zero, errors);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Paku.Ota.Api.Security;

namespace Paku.Ota.Api.Tests.Security;

/// <summary>The judgements shared across connections hold only for the same certificate, the same presented
/// chain and the same trust generation, for a minute at most and never past the certificate's expiry.</summary>
public sealed class CertificateVerdictsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Test]
    public void A_judgement_is_found_again_for_the_same_certificate_chain_and_generation_only()
    {
        using var device = Certificate("esp32_001", Now.AddDays(30));
        using var other = Certificate("esp32_002", Now.AddDays(30));
        using var intermediate = Certificate("Intermediate", Now.AddDays(30));
        var verdicts = new CertificateVerdicts();
        var judgement = verdicts.Keep(device, [], 1, Now, new Judgement("esp32_001", null));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(verdicts.Get(device, [], 1, Now.AddSeconds(59)), Is.SameAs(judgement));
            Assert.That(verdicts.Get(X509CertificateLoader.LoadCertificate(device.RawData), [], 1, Now), Is.SameAs(judgement), "the same bytes on another connection");
            Assert.That(verdicts.Get(other, [], 1, Now), Is.Null, "another certificate");
            Assert.That(verdicts.Get(device, [intermediate], 1, Now), Is.Null, "another presented chain");
            Assert.That(verdicts.Get(device, [], 2, Now), Is.Null, "a reloaded CRL");
            Assert.That(verdicts.Get(device, [], 1, Now + CertificateVerdicts.Lifetime), Is.Null, "a minute later");
        }
    }

    [Test]
    public void A_judgement_never_outlives_the_certificate()
    {
        using var device = Certificate("esp32_001", Now.AddSeconds(10));
        var verdicts = new CertificateVerdicts();
        verdicts.Keep(device, [], 1, Now, new Judgement("esp32_001", null));

        Assert.That(verdicts.Get(device, [], 1, Now.AddSeconds(9)), Is.Not.Null);
        Assert.That(verdicts.Get(device, [], 1, Now.AddSeconds(11)), Is.Null);
    }

    [Test]
    public void A_refusal_gives_a_failed_result_and_an_acceptance_a_new_principal_each_time()
    {
        var refused = new Judgement(null, "the client certificate expired").ToResult("Certificate");
        var accepted = new Judgement("esp32_001", null);

        Assert.That(refused.Succeeded, Is.False);
        Assert.That(refused.Failure!.Message, Is.EqualTo("the client certificate expired"));
        Assert.That(accepted.ToResult("Certificate").Principal, Is.Not.SameAs(accepted.ToResult("Certificate").Principal));
        Assert.That(accepted.ToResult("Certificate").Principal!.Identity!.Name, Is.EqualTo("esp32_001"));
    }

    private static X509Certificate2 Certificate(string name, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        return request.CreateSelfSigned(Now.AddDays(-1), notAfter);
    }
}

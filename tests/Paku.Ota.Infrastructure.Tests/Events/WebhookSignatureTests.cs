using System.Text;
using Paku.Ota.Infrastructure.Events;

namespace Paku.Ota.Infrastructure.Tests.Events;

public sealed class WebhookSignatureTests
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("whsec-0123456789abcdef");
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"id":1}""");
    private static readonly DateTimeOffset At = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);

    /// <summary>The vector was computed with Python's hmac (the README's verify example), so the scheme a
    /// receiver implements from the README is the one the sender uses.</summary>
    [Test]
    public void The_signature_is_hmac_sha256_over_the_timestamp_a_dot_and_the_body()
    {
        Assert.That(WebhookSignature.Sign(Secret, At, Body),
            Is.EqualTo("t=1700000000,v1=139d89016db745c75bf654476b1450b5650c0885f51ba9dae48257ca45752295"));
    }

    [Test]
    public void A_receiver_accepts_it_within_its_tolerance_and_refuses_a_late_a_changed_or_a_malformed_one()
    {
        var header = WebhookSignature.Sign(Secret, At, Body);
        var tolerance = TimeSpan.FromMinutes(5);

        Assert.That(WebhookSignature.Verify(Secret, header, Body, At.AddSeconds(100), tolerance), Is.True);
        Assert.That(WebhookSignature.Verify(Secret, header, Body, At.AddSeconds(301), tolerance), Is.False, "replayed too late");
        Assert.That(WebhookSignature.Verify(Secret, header, Encoding.UTF8.GetBytes("""{"id":2}"""), At, tolerance), Is.False);
        Assert.That(WebhookSignature.Verify(Secret, header.Replace("t=1700000000", "t=1700000001", StringComparison.Ordinal), Body, At, tolerance), Is.False);
        Assert.That(WebhookSignature.Verify(Secret, "v1=" + header.Split("v1=")[1], Body, At, tolerance), Is.False, "no timestamp");
        Assert.That(WebhookSignature.Verify(Secret, "t=99999999999999999999,v1=00", Body, At, tolerance), Is.False);
        Assert.That(WebhookSignature.Verify(Secret, "garbage", Body, At, tolerance), Is.False);
        Assert.That(WebhookSignature.Verify(Secret, null, Body, At, tolerance), Is.False);
    }
}

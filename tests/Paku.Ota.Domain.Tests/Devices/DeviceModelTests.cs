using Paku.Ota.Domain.Devices;

namespace Paku.Ota.Domain.Tests.Devices;

public sealed class DeviceModelTests
{
    [TestCase("ESP32", "esp32")]
    [TestCase("Esp32-S3_Rev.B", "esp32-s3_rev.b")]
    [TestCase("esp8266", "esp8266")]
    public void A_model_sent_in_any_case_has_one_canonical_form(string sent, string canonical)
    {
        Assert.That(DeviceModel.IsValid(sent, out var error), Is.True, error);
        Assert.That(DeviceModel.Canonical(sent), Is.EqualTo(canonical));
        Assert.That(DeviceModel.Canonical(canonical), Is.EqualTo(canonical), "the canonical form is its own canonical form");
    }

    [Test]
    public void A_missing_model_stays_missing_so_validation_can_say_so() => Assert.That(DeviceModel.Canonical(null), Is.Null);
}

using Paku.Ota.Domain.Devices;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Devices;

public sealed class IdentifierTests
{
    [TestCase("esp32_001")]
    [TestCase("AA:BB:CC:DD:EE:FF")]
    [TestCase("site-3.rack_2")]
    [TestCase("x")]
    public void Device_ids_of_letters_digits_dot_underscore_colon_and_dash_are_valid(string id)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(DeviceId.IsValid(id, out var error), Is.True);
            Assert.That(error, Is.Null);
        }
    }

    [TestCase(null, "device id is required")]
    [TestCase("", "device id is required")]
    [TestCase("esp32 001", "device id 'esp32 001' contains U+0020 at position 6; only A-Z a-z 0-9 . _ : - are allowed")]
    [TestCase("esp32/001", "device id 'esp32/001' contains '/' at position 6")]
    [TestCase("gerät", "contains 'ä' at position 4")]
    [TestCase("..", "device id '..' is not allowed")]
    [TestCase(".", "device id '.' is not allowed")]
    public void Invalid_device_ids_are_refused_naming_the_value_and_the_rule(string? id, string problem)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(DeviceId.IsValid(id, out var error), Is.False);
            Assert.That(error, Does.Contain(problem));
        }
    }

    [Test]
    public void Device_ids_may_be_64_characters_long_but_not_65()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(DeviceId.IsValid(new string('a', DeviceId.MaxLength), out _), Is.True);
            Assert.That(DeviceId.IsValid(new string('a', DeviceId.MaxLength + 1), out var error), Is.False);
            Assert.That(error, Does.Contain("65 characters long, at most 64"));
        }
    }

    [TestCase("esp32", true)]
    [TestCase("esp32-s3_v2.1", true)]
    [TestCase("esp32:s3", false)]
    [TestCase("esp32/s3", false)]
    [TestCase("", false)]
    public void Device_models_allow_letters_digits_dot_underscore_and_dash(string model, bool valid) =>
        Assert.That(DeviceModel.IsValid(model, out _), Is.EqualTo(valid));

    [Test]
    public void Model_errors_name_the_model_and_the_allowed_characters()
    {
        DeviceModel.IsValid("esp32:s3", out var error);

        Assert.That(error, Is.EqualTo("device model 'esp32:s3' contains ':' at position 6; only A-Z a-z 0-9 . _ - are allowed"));
    }

    [TestCase("location:warehouse", true)]
    [TestCase("env/production", true)]
    [TestCase("function:sensor.v2-a_b", true)]
    [TestCase("location warehouse", false)]
    [TestCase("a,b", false)]
    [TestCase(null, false)]
    public void Groups_allow_colon_and_slash_as_well(string? group, bool valid) =>
        Assert.That(GroupName.IsValid(group, out _), Is.EqualTo(valid));

    [Test]
    public void Models_and_groups_are_limited_to_64_characters()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(DeviceModel.IsValid(new string('m', 64), out _), Is.True);
            Assert.That(DeviceModel.IsValid(new string('m', 65), out _), Is.False);
            Assert.That(GroupName.IsValid(new string('g', 64), out _), Is.True);
            Assert.That(GroupName.IsValid(new string('g', 65), out _), Is.False);
        }
    }

    [TestCase("v1.0.0-canary", true)]
    [TestCase("v1.2.0-warehouse-phase1", true)]
    [TestCase("release_2025.01", true)]
    [TestCase("v1.0.0 canary", false)]
    [TestCase("phase:1", false)]
    [TestCase("..", false)]
    public void Rollout_names_allow_letters_digits_dot_underscore_and_dash(string name, bool valid) =>
        Assert.That(RolloutName.IsValid(name, out _), Is.EqualTo(valid));

    [Test]
    public void Rollout_names_may_be_128_characters_long_but_not_129()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(RolloutName.IsValid(new string('r', 128), out _), Is.True);
            Assert.That(RolloutName.IsValid(new string('r', 129), out var error), Is.False);
            Assert.That(error, Does.StartWith("rollout name '"));
        }
    }
}

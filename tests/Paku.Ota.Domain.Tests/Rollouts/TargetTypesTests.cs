using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class TargetTypesTests
{
    [TestCase("specific", TargetType.Specific)]
    [TestCase("canary", TargetType.Canary)]
    [TestCase("all", TargetType.All)]
    [TestCase("group", TargetType.Group)]
    public void Wire_names_parse_and_round_trip(string wire, TargetType type)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(TargetTypes.TryParse(wire, out var parsed), Is.True);
            Assert.That(parsed, Is.EqualTo(type));
            Assert.That(TargetTypes.ToWire(type), Is.EqualTo(wire));
        }
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase("Canary")]
    [TestCase("percentage")]
    [TestCase(" all")]
    public void Anything_but_a_wire_name_is_refused(string? text) =>
        Assert.That(TargetTypes.TryParse(text, out _), Is.False);
}

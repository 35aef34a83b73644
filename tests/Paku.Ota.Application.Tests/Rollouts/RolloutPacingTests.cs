using NSubstitute;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Rollouts;
using Paku.Ota.Application.Rollouts.Pacing;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Tests.Rollouts;

/// <summary>A spent budget is remembered: the devices that keep checking meanwhile cost the database nothing.</summary>
public sealed class RolloutPacingTests
{
    private static readonly DateTimeOffset Minute = new(2026, 11, 30, 18, 0, 0, TimeSpan.Zero);

    private IPaceLedger _ledger = null!;
    private RolloutPacing _pacing = null!;

    [SetUp]
    public void Wire()
    {
        _ledger = Substitute.For<IPaceLedger>();
        _pacing = new RolloutPacing(_ledger);
    }

    private static CatalogRollout Paced(Pace pace)
    {
        var version = FirmwareVersion.Parse("1.2.0");
        var rollout = Rollout.Create("paced", "esp32", version, TargetType.All, null, 100, pace: pace).Rollout!;
        return new CatalogRollout(3, rollout, new CatalogRelease(1, "esp32", version, null, new string('0', 64), 10, null, null, null, null));
    }

    private void LedgerDecides(Pace pace, PaceUsage usage) =>
        _ledger.TryAdmitAsync(3, pace, Arg.Any<string>(), "1.2.0", "1.0.0", Arg.Any<DateTimeOffset>(), Arg.Any<CancellationToken>())
            .Returns(call => pace.Decide(usage, call.ArgAt<DateTimeOffset>(5)));

    [Test]
    public async Task A_spent_minute_is_not_asked_again_until_the_next_minute()
    {
        var rollout = Paced(new Pace(5, null));
        LedgerDecides(rollout.Rollout.Pace, new PaceUsage(Minute, 5, 0));

        for (var i = 0; i < 50; i++)
        {
            Assert.That((await _pacing.TryAdmitAsync(rollout, $"dev{i}", "1.0.0", Minute.AddSeconds(10 + i), CancellationToken.None)).Admitted, Is.False);
        }

        var nextMinute = await _pacing.TryAdmitAsync(rollout, "dev99", "1.0.0", Minute.AddMinutes(1), CancellationToken.None);

        Assert.That(nextMinute.Admitted, Is.True);
        await _ledger.Received(2).TryAdmitAsync(3, Arg.Any<Pace>(), Arg.Any<string>(), Arg.Any<string>(), Arg.Any<string>(), Arg.Any<DateTimeOffset>(), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_full_in_flight_limit_is_asked_again_after_a_few_seconds()
    {
        var rollout = Paced(new Pace(null, 2));
        LedgerDecides(rollout.Rollout.Pace, new PaceUsage(Minute, 0, 2));

        await _pacing.TryAdmitAsync(rollout, "dev1", "1.0.0", Minute, CancellationToken.None);
        await _pacing.TryAdmitAsync(rollout, "dev2", "1.0.0", Minute + RolloutPacing.InFlightRecheck - TimeSpan.FromMilliseconds(1), CancellationToken.None);
        await _pacing.TryAdmitAsync(rollout, "dev3", "1.0.0", Minute + RolloutPacing.InFlightRecheck, CancellationToken.None);

        await _ledger.Received(2).TryAdmitAsync(3, Arg.Any<Pace>(), Arg.Any<string>(), Arg.Any<string>(), Arg.Any<string>(), Arg.Any<DateTimeOffset>(), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_changed_pace_is_asked_at_once_even_while_the_old_one_was_spent()
    {
        var rollout = Paced(new Pace(5, null));
        LedgerDecides(rollout.Rollout.Pace, new PaceUsage(Minute, 5, 0));
        await _pacing.TryAdmitAsync(rollout, "dev1", "1.0.0", Minute, CancellationToken.None);

        var raised = Paced(new Pace(10, null)); // the catalog reloaded after a PATCH
        LedgerDecides(raised.Rollout.Pace, new PaceUsage(Minute, 5, 0));

        Assert.That((await _pacing.TryAdmitAsync(raised, "dev2", "1.0.0", Minute.AddSeconds(1), CancellationToken.None)).Admitted, Is.True);
    }
}

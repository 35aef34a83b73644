using System.Text;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Domain.Tests.Rollouts;

public sealed class PercentageBucketTests
{
    private const int Fleet = 100_000;
    private static readonly int[] Steps = [1, 5, 10, 25, 50, 100];
    private static readonly string[] DeviceIds =
        Enumerable.Range(1, Fleet).Select(i => $"esp32_{i:D6}").ToArray();

    private static int[] Buckets(string rollout) => DeviceIds.Select(id => PercentageBucket.Of(rollout, id)).ToArray();

    private static HashSet<string> Included(string rollout, int percentage) =>
        DeviceIds.Where(id => PercentageBucket.Includes(rollout, id, percentage)).ToHashSet(StringComparer.Ordinal);

    // Pinned values, computed by an independent implementation: a change of hash would move
    // every device of every running rollout in or out.
    [TestCase("v1.0.0-canary", "esp32_001", 3869)]
    [TestCase("v1.0.0-canary", "esp32_002", 8227)]
    [TestCase("v1.2.0-warehouse-phase1", "esp32_000001", 524)]
    [TestCase("v1.0.0-production", "esp32_abcdef", 6172)]
    [TestCase("a", "bc", 2375)]
    [TestCase("ab", "c", 5309)]
    [TestCase("r", "Gerät-ü-😀", 6632)]
    [TestCase("", "", 2267)]
    public void Buckets_are_the_same_on_every_machine_and_in_every_process(string rollout, string deviceId, int bucket) =>
        Assert.That(PercentageBucket.Of(rollout, deviceId), Is.EqualTo(bucket));

    [Test]
    public void Buckets_hash_the_utf8_bytes_of_name_nul_and_id()
    {
        // A lone surrogate must hash like Encoding.UTF8 encodes it (as U+FFFD).
        foreach (var (rollout, id) in new[] { ("r", "\ud800x"), ("r", "\ufffdx"), ("é", "ü€😀") })
        {
            Assert.That(PercentageBucket.Of(rollout, id), Is.EqualTo(Reference(rollout, id)), $"{rollout} / {id}");
        }
    }

    [Test]
    public void Every_bucket_is_between_0_and_9999_and_stable_across_calls()
    {
        var first = Buckets("v1.0.0-canary");
        var second = Buckets("v1.0.0-canary");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(first, Is.All.InRange(0, PercentageBucket.Count - 1));
            Assert.That(second, Is.EqualTo(first));
        }
    }

    [TestCaseSource(nameof(Steps))]
    public void A_percentage_reaches_that_share_of_the_fleet_within_one_point(int percentage)
    {
        var share = Included("v1.0.0-canary", percentage).Count * 100.0 / Fleet;

        Assert.That(share, Is.EqualTo(percentage).Within(1.0));
    }

    [Test]
    public void Buckets_spread_evenly_over_ten_deciles()
    {
        var perDecile = Buckets("v2.0.0-all").GroupBy(b => b / 1000).Select(g => g.Count()).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(perDecile, Has.Count.EqualTo(10));
            Assert.That(perDecile, Is.All.InRange(9_500, 10_500));
        }
    }

    [Test]
    public void Raising_the_percentage_keeps_every_device_already_included()
    {
        using (Assert.EnterMultipleScope())
        {
            for (var i = 0; i < Steps.Length; i++)
            {
                var lower = Included("v1.2.0-canary", Steps[i]);
                for (var j = i + 1; j < Steps.Length; j++)
                {
                    var higher = Included("v1.2.0-canary", Steps[j]);
                    Assert.That(lower.IsSubsetOf(higher), Is.True, $"{Steps[i]} % → {Steps[j]} %");
                    Assert.That(higher.Count, Is.GreaterThan(lower.Count), $"{Steps[i]} % → {Steps[j]} %");
                }
            }
        }
    }

    [Test]
    public void Canary_raised_from_10_to_25_keeps_every_device_of_the_10()
    {
        var at10 = Included("v1.0.0-canary", 10);
        var at25 = Included("v1.0.0-canary", 25);

        Assert.That(at10.Except(at25), Is.Empty);
    }

    [Test]
    public void Zero_percent_includes_nobody_and_100_percent_everybody()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Included("v1.0.0-canary", 0), Is.Empty);
            Assert.That(Included("v1.0.0-canary", 100), Has.Count.EqualTo(Fleet));
        }
    }

    [Test]
    public void Two_rollouts_at_10_percent_pick_independent_samples()
    {
        var first = Included("v1.0.0-canary", 10);
        var second = Included("v1.1.0-canary", 10);
        first.IntersectWith(second);

        // Independent 10 % samples overlap in about 10 % × 10 % = 1 % of the fleet.
        Assert.That(first.Count * 100.0 / Fleet, Is.EqualTo(1.0).Within(0.2));
    }

    [TestCase(-1)]
    [TestCase(101)]
    public void Percentages_outside_0_to_100_are_refused(int percentage) =>
        Assert.That(() => PercentageBucket.Includes("r", "d", percentage), Throws.TypeOf<ArgumentOutOfRangeException>());

    [Test]
    public void Includes_agrees_with_the_bucket_at_every_percentage()
    {
        var buckets = Buckets("v3.0.0-canary");
        for (var percentage = 0; percentage <= 100; percentage++)
        {
            for (var i = 0; i < 2_000; i++)
            {
                var expected = buckets[i] < percentage * 100;
                if (PercentageBucket.Includes("v3.0.0-canary", DeviceIds[i], percentage) != expected)
                {
                    Assert.Fail($"{DeviceIds[i]} in bucket {buckets[i]} at {percentage} %");
                }
            }
        }
    }

    [Test]
    public void Computing_a_bucket_allocates_nothing()
    {
        var sink = 0;
        for (var i = 0; i < 1_000; i++)
        {
            sink += PercentageBucket.Of("v1.0.0-canary", DeviceIds[i]) + PercentageBucket.Of("ü", "😀");
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            sink += PercentageBucket.Of("v1.0.0-canary", DeviceIds[i]) + PercentageBucket.Of("ü", "😀");
            sink += PercentageBucket.Includes("v1.0.0-canary", DeviceIds[i], 25) ? 1 : 0;
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero, $"checksum {sink}");
    }

    private static int Reference(string rollout, string deviceId)
    {
        var bytes = Encoding.UTF8.GetBytes(rollout + "\0" + deviceId);
        var hash = 14695981039346656037UL;
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        hash ^= hash >> 33;
        hash *= 0xff51afd7ed558ccdUL;
        hash ^= hash >> 33;
        hash *= 0xc4ceb9fe1a85ec53UL;
        hash ^= hash >> 33;
        return (int)(hash % 10_000);
    }
}

using Dapper;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Versions;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Events;

/// <summary>The <c>rollout_completion</c> view is the one SQL definition of a completed rollout; these
/// tests pin it to the Domain's <see cref="RolloutCompletion"/> over fleets of every shape, and check that
/// a completion is recorded, with its event, once.</summary>
[NonParallelizable]
public sealed class RolloutCompletionViewTests
{
    private static readonly string[] Versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1", "1.3.0"];
    private static readonly string[] Groups = ["lab", "field", "north"];

    private TestDatabase _db = null!;
    private FleetData _fleet = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase()
    {
        _db = await TestDatabase.CreateAsync("paku_test_rollout_completion");
        _fleet = new FleetData(_db);
    }

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        foreach (var version in Versions)
        {
            await _fleet.AddReleaseAsync("esp32", version);
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(4)]
    [TestCase(5)]
    [TestCase(6)]
    [TestCase(7)]
    [TestCase(8)]
    public async Task The_view_decides_completion_as_the_domain_does(int seed)
    {
        var random = new Random(seed);
        var devices = Enumerable.Range(0, random.Next(1, 7)).Select(i => new ModelDevice(
            $"d{i}",
            [.. Groups.Where(_ => random.Next(3) == 0)],
            FirmwareVersion.Parse(Versions[random.Next(Versions.Length)]),
            Blocked: random.Next(6) == 0)).ToList();
        foreach (var d in devices)
        {
            await _fleet.ScalarAsync<int>("""
                insert into devices (device_id, device_model, current_firmware_version, metadata) values (@id, 'esp32', @version, jsonb_build_object('groups', @groups::text[]));
                insert into device_blocks (device_id, reason, blocked_by) select @id, 'lost', 'test' where @blocked;
                select 1
                """, new { id = d.DeviceId, version = d.Current.ToString(), groups = d.Groups.ToArray(), blocked = d.Blocked });
        }

        var rollouts = new List<(long Id, Rollout Rollout, int Confirmed)>();
        var targetTypes = new[] { TargetType.All, TargetType.Canary, TargetType.Group, TargetType.Specific };
        for (var r = 0; r < 12; r++)
        {
            var type = targetTypes[random.Next(targetTypes.Length)];
            var version = Versions[random.Next(Versions.Length)];
            var filter = type switch
            {
                TargetType.Group => TargetFilter.ForGroups(Groups[random.Next(Groups.Length)]),
                TargetType.Specific => TargetFilter.ForDevices(devices.Where(_ => random.Next(2) == 0).Select(d => d.DeviceId).DefaultIfEmpty("nobody")),
                _ => TargetFilter.None,
            };
            var percentage = random.Next(3) == 0 ? 40 : 100;
            var active = random.Next(5) != 0;
            var downgrade = random.Next(3) == 0;
            var id = await _fleet.AddRolloutAsync($"r{r}", "esp32", version, type.ToWire(), RolloutStore.FilterJson(filter), percentage, active, downgrade);
            var confirmed = devices.Count(_ => random.Next(3) != 0);
            foreach (var d in devices.Take(confirmed))
            {
                await _fleet.ScalarAsync<int>(
                    "insert into rollout_devices (rollout_id, device_id, status) values (@id, @device, 'confirmed') returning 1", new { id, device = d.DeviceId });
            }

            var rollout = Rollout.Restore($"r{r}", "esp32", FirmwareVersion.Parse(version), type, filter, percentage, active, downgrade,
                FailureThreshold.Default, active ? null : "paused by test", isHalted: false);
            rollouts.Add((id, rollout, confirmed));
        }

        foreach (var (id, rollout, confirmed) in rollouts)
        {
            var sql = await _fleet.ScalarAsync<bool>("select complete from rollout_completion where rollout_id = @id", new { id });
            Assert.That(sql, Is.EqualTo(RolloutCompletion.IsComplete(rollout, confirmed, devices)),
                $"{rollout.Name}: {rollout.TargetType} {rollout.Percentage} % {rollout.Version} active={rollout.IsActive} downgrade={rollout.AllowDowngrade} confirmed={confirmed}; " +
                string.Join(", ", devices.Select(d => $"{d.DeviceId} {d.Current} [{string.Join('/', d.Groups)}]{(d.Blocked ? " blocked" : "")}")));
        }
    }

    [Test]
    public async Task A_completion_is_recorded_once_with_its_event_however_often_and_concurrently_it_is_looked_for()
    {
        await _fleet.ScalarAsync<int>("insert into devices (device_id, device_model, current_firmware_version) values ('a', 'esp32', '1.2.0') returning 1");
        var id = await _fleet.AddRolloutAsync("v1.2.0-all", "esp32", "1.2.0", "all");
        await _fleet.ScalarAsync<int>("insert into rollout_devices (rollout_id, device_id, status) values (@id, 'a', 'confirmed') returning 1", new { id });
        var outbox = new RolloutEventOutbox(WebhookEndpoints.Load(new WebhookOptions
        {
            Endpoints = [new WebhookEndpointOptions { Name = "ops", Url = "http://127.0.0.1:9/", Secret = "0123456789abcdef0123" }],
        }));
        var store = new RolloutCompletionStore(_db.DataSource, outbox);

        var found = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => store.RecordCompletionsAsync(CancellationToken.None)));
        var again = await store.RecordCompletionsAsync(CancellationToken.None);

        Assert.That(found.SelectMany(f => f), Is.EqualTo(new[] { "v1.2.0-all" }));
        Assert.That(again, Is.Empty);
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_events where kind = 'rollout.completed'"), Is.EqualTo(1));
        Assert.That(await _fleet.ScalarAsync<string>("select data::text from rollout_events"), Is.EqualTo("""{"attempts": 1, "confirmed": 1}"""));
        Assert.That(await _fleet.ScalarAsync<string>("select endpoint || ':' || state from rollout_event_deliveries"), Is.EqualTo("ops:pending"));
        Assert.That(await _fleet.ScalarAsync<bool>("select completed_at is not null from rollouts where id = @id", new { id }), Is.True);
    }
}

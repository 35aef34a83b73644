using Dapper;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

[NonParallelizable]
public sealed class CheckInBatcherTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task Concurrent_check_ins_are_all_written_and_each_waiter_gets_its_devices_row()
    {
        await using (var c = await _db.DataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("""insert into devices (device_id, device_model, current_firmware_version, metadata) values ('d7', 'esp32', '0.9.0', '{"groups": ["g1", "g2"]}')""");
        }

        await using var batcher = new CheckInBatcher(_db.DataSource, new CheckInBatchOptions { MaxBatch = 16, Writers = 2 });
        var store = new DeviceStore(_db.DataSource, batcher);

        // 300 check-ins over 100 devices: the same device several times, often in one batch
        var calls = Enumerable.Range(0, 300).Select(i => (Id: $"d{i % 100}", Version: $"1.0.{i}")).ToList();
        var results = await Task.WhenAll(calls.Select(c => store.CheckInAsync(c.Id, "esp32", c.Version, CancellationToken.None)));

        await using var check = await _db.DataSource.OpenConnectionAsync();
        var count = await check.ExecuteScalarAsync<long>("select count(*) from devices");
        var d7 = results.Where((_, i) => calls[i].Id == "d7").ToList();
        Assert.That(count, Is.EqualTo(100));
        Assert.That(d7, Has.Count.EqualTo(3));
        Assert.That(d7.Select(r => r.Groups), Is.All.EquivalentTo(new[] { "g1", "g2" }));
        Assert.That(results.Where((_, i) => calls[i].Id != "d7").Select(r => r.Groups.Count), Is.All.Zero);
    }

    [Test]
    public async Task Concurrent_batches_over_the_same_devices_never_deadlock()
    {
        await using var batcher = new CheckInBatcher(_db.DataSource, new CheckInBatchOptions { MaxBatch = 64, Writers = 4 });
        var random = new Random(5);

        // 4,000 check-ins over 60 devices in random order: batches in flight share devices all the time
        var calls = Enumerable.Range(0, 4000)
            .Select(_ => batcher.CheckInAsync($"d{random.Next(60)}", "esp32", "1.0.0", CancellationToken.None))
            .ToList();
        var outcomes = await Task.WhenAll(calls.Select(async c =>
        {
            try
            {
                await c;
                return null;
            }
            catch (Npgsql.PostgresException e)
            {
                return e.SqlState;
            }
        }));

        Assert.That(outcomes.Where(o => o is not null), Is.Empty, "no statement failed (40P01 would be a deadlock)");
    }

    [Test]
    public async Task Every_waiter_of_a_failed_statement_gets_the_failure()
    {
        await using var broken = Paku.Ota.Infrastructure.Persistence.OtaDatabase.CreateDataSource("Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=2");
        await using var batcher = new CheckInBatcher(broken, new CheckInBatchOptions());

        var calls = Enumerable.Range(0, 5).Select(i => batcher.CheckInAsync($"d{i}", "esp32", "1.0.0", CancellationToken.None)).ToList();

        foreach (var call in calls)
        {
            Assert.That(async () => await call, Throws.InstanceOf<Npgsql.NpgsqlException>());
        }
    }
}

using Dapper;
using Paku.Ota.Application.Updates;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The group commit of device update events against a real PostgreSQL.</summary>
[NonParallelizable]
public sealed class UpdateLedgerTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        await using var c = await _db.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            insert into devices (device_id, device_model, current_firmware_version)
            select 'd' || i, 'esp32', '1.0.0' from generate_series(0, 99) i
            """);
    }

    [Test]
    public async Task A_lone_event_is_stored_when_commit_returns()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions());

        await using (var session = await ledger.OpenAsync("d1", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.That(session.Device!.CurrentVersion, Is.EqualTo("1.0.0"));
            Record(session, "d1", UpdateStatus.Downloading, 10);
            await session.CommitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.That(await HistoryCountAsync("d1"), Is.EqualTo(1));
        Assert.That(await StatusOfAsync("d1"), Is.EqualTo("downloading"));
    }

    [Test]
    public async Task An_unknown_device_gets_a_session_without_state_and_giving_it_up_frees_the_group()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions());

        await using (var unknown = await ledger.OpenAsync("nobody", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.That(unknown.Device, Is.Null);
        }

        await using var next = await ledger.OpenAsync("d2", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(next.Device, Is.Not.Null);
    }

    [Test]
    public async Task Concurrent_events_are_all_stored_and_share_transactions()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions { MaxGroup = 64, Groups = 2 });

        await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            await using var session = await ledger.OpenAsync($"d{i}", CancellationToken.None);
            Record(session, $"d{i}", UpdateStatus.Downloading, i);
            await session.CommitAsync(CancellationToken.None);
        })).WaitAsync(TimeSpan.FromSeconds(30));

        await using var c = await _db.DataSource.OpenConnectionAsync();
        var stored = await c.ExecuteScalarAsync<long>("select count(*) from device_update_status");
        var transactions = await c.ExecuteScalarAsync<long>("select count(distinct xmin::text) from device_update_status");
        var progress = await c.ExecuteScalarAsync<long>("select count(*) from devices where update_status = 'downloading' and update_progress = substr(device_id, 2)::int");
        Assert.That(stored, Is.EqualTo(100));
        Assert.That(progress, Is.EqualTo(100), "each device got its own attempt state");
        Assert.That(transactions, Is.LessThan(50), "events that arrive together are committed together");
    }

    [Test]
    public async Task A_second_event_for_a_device_waits_for_the_first_and_sees_what_it_wrote()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions { Groups = 2 });
        var first = await ledger.OpenAsync("d3", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        var second = ledger.OpenAsync("d3", CancellationToken.None);
        await Task.Delay(300);
        Assert.That(second.IsCompleted, Is.False, "the device is locked by the first event");

        Record(first, "d3", UpdateStatus.Installing, 100);
        await first.CommitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        await first.DisposeAsync();
        await using var next = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(next.Device!.Attempt!.Attempt.Status, Is.EqualTo(UpdateStatus.Installing));
    }

    [Test]
    public async Task When_the_shared_transaction_fails_every_event_in_it_gets_the_error_and_none_is_stored()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions { Groups = 1 });
        var (good, bad) = await OpenTogetherAsync(ledger, "d4", "d5");

        Record(good, "d4", UpdateStatus.Downloading, 5);
        bad.SaveAttempt("d5", rolloutId: 999_999, new UpdateAttempt("1.1.0", "1.0.0", UpdateStatus.Downloading, 5), startsAttempt: true);
        var commits = new[] { good.CommitAsync(CancellationToken.None), bad.CommitAsync(CancellationToken.None) };

        foreach (var commit in commits)
        {
            await Assert.ThatAsync(() => commit.WaitAsync(TimeSpan.FromSeconds(10)), Throws.InstanceOf<Npgsql.PostgresException>());
        }

        Assert.That(await HistoryCountAsync("d4"), Is.Zero);
        Assert.That(await StatusOfAsync("d4"), Is.Null);
    }

    [Test]
    public async Task An_event_that_gives_up_after_writing_into_the_shared_transaction_takes_its_group_with_it()
    {
        await using var ledger = new UpdateLedger(_db.DataSource, new UpdateLedgerOptions { Groups = 1 });
        var (kept, abandoned) = await OpenTogetherAsync(ledger, "d6", "d7");

        Record(abandoned, "d7", UpdateStatus.Failed, 0);
        await abandoned.CountAsync(1, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)); // sends its writes ahead
        await abandoned.DisposeAsync();
        Record(kept, "d6", UpdateStatus.Downloading, 5);

        await Assert.ThatAsync(() => kept.CommitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)), Throws.TypeOf<UpdateGroupAbortedException>());
        Assert.That(await HistoryCountAsync("d6") + await HistoryCountAsync("d7"), Is.Zero);
    }

    [Test]
    public async Task While_the_database_cannot_be_reached_queued_events_fail_together_instead_of_one_timeout_each()
    {
        // a server that accepts connections and never answers: every open waits out its timeout
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start(backlog: 100);
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        await using var unreachable = Npgsql.NpgsqlDataSource.Create($"Host=127.0.0.1;Port={port};Username=x;Timeout=2;Pooling=false");
        await using var ledger = new UpdateLedger(unreachable, new UpdateLedgerOptions { MaxGroup = 1, Groups = 1 });
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var openings = Enumerable.Range(0, 10).Select(i => ledger.OpenAsync($"d{i}", CancellationToken.None)).ToList();
        var outcomes = await Task.WhenAll(openings.Select(async o =>
        {
            try
            {
                await o.WaitAsync(TimeSpan.FromSeconds(30));
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }));

        Assert.That(outcomes, Has.All.Matches<Exception?>(e => e is Npgsql.NpgsqlException or TimeoutException), "every event is refused as a database outage");
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "one connect timeout for the queue, not one per event (10 x 2 s)");
    }

    /// <summary>Holds the only group loop with a session on d0, queues the two openings, then lets the
    /// loop go: the two land in one group.</summary>
    private static async Task<(IUpdateLedgerSession First, IUpdateLedgerSession Second)> OpenTogetherAsync(UpdateLedger ledger, string first, string second)
    {
        var holder = await ledger.OpenAsync("d0", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var a = ledger.OpenAsync(first, CancellationToken.None);
        var b = ledger.OpenAsync(second, CancellationToken.None);
        await holder.DisposeAsync();
        return (await a.WaitAsync(TimeSpan.FromSeconds(10)), await b.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static void Record(IUpdateLedgerSession session, string deviceId, UpdateStatus status, int progress)
    {
        session.AppendHistory(new StatusEntry(deviceId, "1.1.0", status, progress, null, null, FromDevice: true));
        session.SaveAttempt(deviceId, null, new UpdateAttempt("1.1.0", "1.0.0", status, progress), startsAttempt: true);
    }

    private async Task<long> HistoryCountAsync(string deviceId)
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("select count(*) from device_update_status where device_id = @deviceId", new { deviceId });
    }

    private async Task<string?> StatusOfAsync(string deviceId)
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<string?>("select update_status from devices where device_id = @deviceId", new { deviceId });
    }
}

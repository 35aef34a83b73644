using Dapper;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Rollouts.Events;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Events;

/// <summary>The outbox on real PostgreSQL: an event exists exactly when the change that caused it
/// committed, and concurrent senders never claim the same delivery.</summary>
[NonParallelizable]
public sealed class RolloutEventOutboxTests
{
    private TestDatabase _db = null!;
    private FleetData _fleet = null!;
    private WebhookEndpoints _endpoints = null!;
    private RolloutStore _rollouts = null!;
    private RolloutEventStore _events = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase()
    {
        _db = await TestDatabase.CreateAsync("paku_test_rollout_events");
        _fleet = new FleetData(_db);
        _endpoints = WebhookEndpoints.Load(new WebhookOptions
        {
            Endpoints =
            [
                new WebhookEndpointOptions { Name = "ops", Url = "http://127.0.0.1:9/ops", Secret = "0123456789abcdef0123" },
                new WebhookEndpointOptions { Name = "audit", Url = "http://127.0.0.1:9/audit", Secret = "fedcba9876543210fedc" },
            ],
        });
        _rollouts = new RolloutStore(_db.DataSource, TimeProvider.System, new RolloutEventOutbox(_endpoints));
        _events = new RolloutEventStore(_db.DataSource);
    }

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        await _fleet.AddReleaseAsync("esp32", "1.1.0");
        await _fleet.AddRolloutAsync("v1.1.0-all", "esp32", "1.1.0", "all");
    }

    [Test]
    public async Task A_halt_that_is_not_saved_leaves_no_event_and_a_saved_one_leaves_one_delivery_per_endpoint()
    {
        await using (var abandoned = await _rollouts.OpenAsync("v1.1.0-all", CancellationToken.None))
        {
            Halt(abandoned!);
        }

        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_events"), Is.Zero, "the halt never committed");

        await using (var change = await _rollouts.OpenAsync("v1.1.0-all", CancellationToken.None))
        {
            Halt(change!);
            await change!.SaveHaltAsync("{}", CancellationToken.None);
        }

        var listed = await _events.ListAsync(new Application.Rollouts.Events.RolloutEventFilter(null, null, null, 10, null), CancellationToken.None);
        Assert.That(listed, Has.Count.EqualTo(1));
        Assert.That(listed[0].Kind, Is.EqualTo("rollout.halted"));
        Assert.That(listed[0].Data.GetProperty("figures").GetProperty("failed").GetInt32(), Is.EqualTo(3));
        Assert.That(listed[0].Deliveries.Select(d => (d.Endpoint, d.State, d.Attempts)), Is.EqualTo(new[] { ("audit", "pending", 0), ("ops", "pending", 0) }));
        Assert.That(await _fleet.ScalarAsync<bool>("select halted_at is not null from rollouts where name = 'v1.1.0-all'"), Is.True);
    }

    [Test]
    public async Task A_failing_statement_after_the_event_rolls_the_event_back_with_the_change()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await new RolloutEventOutbox(_endpoints).AppendAsync(connection, transaction, Paused(), CancellationToken.None);
            await Assert.ThrowsAsync<Npgsql.PostgresException>(() => connection.ExecuteAsync("update rollouts set rollout_percentage = 101", transaction: transaction));
        }

        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_events"), Is.Zero);
        Assert.That(await _fleet.ScalarAsync<long>("select count(*) from rollout_event_deliveries"), Is.Zero);
    }

    [Test]
    public async Task Concurrent_claims_never_take_the_same_delivery_and_a_claimed_one_waits_for_its_lease()
    {
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            for (var i = 0; i < 30; i++)
            {
                await using var transaction = await connection.BeginTransactionAsync();
                await new RolloutEventOutbox(_endpoints).AppendAsync(connection, transaction, Paused(), CancellationToken.None);
                await transaction.CommitAsync();
            }
        }

        var claims = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ =>
            _events.ClaimAsync(_endpoints.Names, 15, TimeSpan.FromMinutes(5), CancellationToken.None)));
        var all = claims.SelectMany(c => c).Select(c => (c.EventId, c.Endpoint)).ToList();

        Assert.That(all, Is.Unique);
        Assert.That(all, Has.Count.EqualTo(60), "every delivery is claimed by exactly one of the claimers");
        Assert.That(await _events.ClaimAsync(_endpoints.Names, 100, TimeSpan.FromMinutes(5), CancellationToken.None), Is.Empty, "leased");

        var first = claims.First(c => c.Count > 0)[0];
        var stale = first with { Lease = Guid.NewGuid() };
        Assert.That(await _events.FinishAsync(stale, delivered: true, 200, null, null, CancellationToken.None), Is.False, "not this claim's lease");
        Assert.That(await _events.FinishAsync(first, delivered: false, 503, "HTTP 503", TimeSpan.Zero, CancellationToken.None), Is.True);
        var retried = await _events.ClaimAsync(_endpoints.Names, 100, TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.That(retried.Select(c => (c.EventId, c.Endpoint, c.Attempt)), Is.EqualTo(new[] { (first.EventId, first.Endpoint, 2) }));
    }

    [Test]
    public async Task A_delivery_out_of_attempts_is_given_up_and_one_handed_back_is_due_at_once()
    {
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await new RolloutEventOutbox(_endpoints).AppendAsync(connection, transaction, Paused(), CancellationToken.None);
            await transaction.CommitAsync();
        }

        var claims = await _events.ClaimAsync(_endpoints.Names, 10, TimeSpan.FromMinutes(5), CancellationToken.None);
        var ops = claims.Single(c => c.Endpoint == "ops");
        var audit = claims.Single(c => c.Endpoint == "audit");
        Assert.That(await _events.FinishAsync(ops, delivered: false, 410, "HTTP 410 Gone", retryAfter: null, CancellationToken.None), Is.True);
        await _events.ReleaseAsync(audit, CancellationToken.None);

        var states = (await _events.ListAsync(new Application.Rollouts.Events.RolloutEventFilter(null, null, null, 10, null), CancellationToken.None))
            .Single().Deliveries.ToDictionary(d => d.Endpoint);
        Assert.That((states["ops"].State, states["ops"].LastStatus, states["ops"].LastError), Is.EqualTo(("given_up", (int?)410, "HTTP 410 Gone")));
        Assert.That(states["ops"].NextAttemptAt, Is.Null, "a given-up delivery has no next try");
        var again = await _events.ClaimAsync(_endpoints.Names, 10, TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.That(again.Select(c => (c.Endpoint, c.Attempt)), Is.EqualTo(new[] { ("audit", 2) }), "handed back: due at once; given up: never again");
    }

    [Test]
    public async Task Deliveries_to_an_endpoint_that_is_no_longer_configured_stay_pending_and_are_not_claimed()
    {
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await new RolloutEventOutbox(_endpoints).AppendAsync(connection, transaction, Paused(), CancellationToken.None);
            await transaction.CommitAsync();
        }

        var claimed = await _events.ClaimAsync(["ops"], 10, TimeSpan.FromMinutes(1), CancellationToken.None);

        Assert.That(claimed.Select(c => c.Endpoint), Is.EqualTo(new[] { "ops" }));
        Assert.That(await _fleet.ScalarAsync<string>("select state from rollout_event_deliveries where endpoint = 'audit'"), Is.EqualTo("pending"));
    }

    private static void Halt(Application.Rollouts.IRolloutChange change)
    {
        var counts = new RolloutCounts(20, 3, 0);
        var verdict = RolloutHealth.Evaluate(counts, change.Rollout.Threshold);
        Assert.That(change.Rollout.Halt(verdict.Reason), Is.True);
        change.Record(RolloutEvent.Halted(change.Rollout, counts, verdict, "dev03"));
    }

    private static RolloutEvent Paused() => RolloutEvent.PausedByWithdrawal("v1.1.0-all", "esp32", "1.1.0", "release 1.1.0 withdrawn");
}

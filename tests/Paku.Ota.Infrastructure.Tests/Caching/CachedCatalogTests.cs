using Paku.Ota.Application.Catalog;
using Paku.Ota.Infrastructure.Caching;

namespace Paku.Ota.Infrastructure.Tests.Caching;

/// <summary>The cache's promise: once an admin write has returned (and invalidated), no later check is
/// answered from a snapshot read before that write. Reads are scripted so the interleavings are exact.</summary>
public sealed class CachedCatalogTests
{
    private readonly Queue<TaskCompletionSource<CatalogSnapshot>> _reads = new();
    private int _started;

    [SetUp]
    public void Reset()
    {
        _reads.Clear();
        _started = 0;
    }

    [Test]
    public async Task Without_an_invalidation_the_snapshot_is_served_without_reading_again()
    {
        var catalog = new CachedCatalog(ReadImmediately);

        var first = await catalog.CurrentAsync(CancellationToken.None);
        var second = await catalog.CurrentAsync(CancellationToken.None);

        Assert.That(second, Is.SameAs(first));
        Assert.That(_started, Is.EqualTo(1));
    }

    [Test]
    public async Task A_check_during_a_reload_started_after_an_invalidation_waits_for_that_reload()
    {
        var catalog = new CachedCatalog(ReadScripted);
        var before = Script(1);
        before.SetResult(Snapshot(1));
        await catalog.CurrentAsync(CancellationToken.None);

        catalog.Invalidate(); // an admin write committed and returned
        var after = Script(2);
        var reload = catalog.ReloadAsync(CancellationToken.None); // e.g. the refresher, now reading
        var check = catalog.CurrentAsync(CancellationToken.None).AsTask();

        Assert.That(check.IsCompleted, Is.False, "the check must not be answered from the snapshot read before the write");
        after.SetResult(Snapshot(2));
        Assert.That((await check).Generation, Is.EqualTo(2));
        Assert.That((await reload).Generation, Is.EqualTo(2));
        Assert.That(_started, Is.EqualTo(2));
    }

    [Test]
    public async Task An_invalidation_during_a_reload_makes_the_next_check_read_again()
    {
        var catalog = new CachedCatalog(ReadScripted);
        Script(1).SetResult(Snapshot(1));
        await catalog.CurrentAsync(CancellationToken.None);

        catalog.Invalidate();
        var inFlight = Script(2);
        var reload = catalog.ReloadAsync(CancellationToken.None);
        catalog.Invalidate(); // a second write committed while that read was running
        inFlight.SetResult(Snapshot(2));
        await reload;
        Script(3).SetResult(Snapshot(3));

        Assert.That((await catalog.CurrentAsync(CancellationToken.None)).Generation, Is.EqualTo(3));
    }

    [Test]
    public async Task A_failed_read_is_tried_again_by_the_next_check()
    {
        var catalog = new CachedCatalog(ReadScripted);
        Script(1).SetResult(Snapshot(1));
        await catalog.CurrentAsync(CancellationToken.None);
        catalog.Invalidate();
        Script(2).SetException(new TimeoutException("database unreachable"));

        await Assert.ThatAsync(async () => await catalog.CurrentAsync(CancellationToken.None), Throws.TypeOf<TimeoutException>());
        Script(3).SetResult(Snapshot(3));
        Assert.That((await catalog.CurrentAsync(CancellationToken.None)).Generation, Is.EqualTo(3));
        Assert.That(catalog.Current!.Generation, Is.EqualTo(3));
    }

    private static CatalogSnapshot Snapshot(long generation) => new(generation, [], []);

    private Task<CatalogSnapshot> ReadImmediately(CancellationToken cancellationToken) => Task.FromResult(Snapshot(++_started));

    private TaskCompletionSource<CatalogSnapshot> Script(int read)
    {
        Assert.That(_reads.Count + _started, Is.EqualTo(read - 1), "reads are scripted in order");
        var source = new TaskCompletionSource<CatalogSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        _reads.Enqueue(source);
        return source;
    }

    private Task<CatalogSnapshot> ReadScripted(CancellationToken cancellationToken)
    {
        _started++;
        return _reads.Dequeue().Task;
    }
}

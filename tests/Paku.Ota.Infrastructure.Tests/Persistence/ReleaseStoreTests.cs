using System.Security.Cryptography;
using Dapper;
using Npgsql;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Domain.Versions;
using Paku.Ota.Infrastructure.Events;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

[NonParallelizable]
public sealed class ReleaseStoreTests
{
    private TestDatabase _db = null!;
    private ReleaseStore _store = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase()
    {
        _db = await TestDatabase.CreateAsync("paku_test_firmware_store");
        _store = new ReleaseStore(_db.DataSource, new RolloutEventOutbox(WebhookEndpoints.Load(new WebhookOptions())));
    }

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task A_release_and_its_image_are_stored_together()
    {
        var created = await _store.CreateAsync(Release("1.0.0", [0xE9, 1, 2]), CancellationToken.None);

        Assert.That(created, Is.Not.Null);
        Assert.That(created!.Version, Is.EqualTo("1.0.0"));
        Assert.That(created.SizeBytes, Is.EqualTo(3));
        Assert.That(await CountsAsync(), Is.EqualTo((1L, 1L)));
    }

    [Test]
    public async Task A_second_release_of_the_same_precedence_is_refused_and_its_image_is_not_kept()
    {
        await _store.CreateAsync(Release("1.0.0+a", [0xE9, 1]), CancellationToken.None);

        var second = await _store.CreateAsync(Release("1.0.0+b", [0xE9, 2]), CancellationToken.None);

        Assert.That(second, Is.Null);
        Assert.That(await CountsAsync(), Is.EqualTo((1L, 1L)));
    }

    [Test]
    public async Task A_release_that_fails_after_its_image_was_written_leaves_nothing_behind()
    {
        // the release row breaks a check constraint after the image row went in: one transaction, so neither stays
        var broken = Release("1.0.0", [0xE9, 3]) with { MinVersion = "not-a-version" };

        await Assert.ThrowsAsync<PostgresException>(() => _store.CreateAsync(broken, CancellationToken.None));

        Assert.That(await CountsAsync(), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task An_upload_cancelled_before_commit_leaves_nothing_behind()
    {
        using var cancel = new CancellationTokenSource();
        await using (var blocker = await _db.DataSource.OpenConnectionAsync())
        await using (var transaction = await blocker.BeginTransactionAsync())
        {
            // hold the release table so the store waits after writing the image, then cancel it there
            await blocker.ExecuteAsync("lock table firmware_releases in exclusive mode", transaction: transaction);
            var upload = _store.CreateAsync(Release("1.0.0", [0xE9, 4]), cancel.Token);
            await Task.Delay(500);
            await cancel.CancelAsync();
            await Assert.CatchAsync<Exception>(() => upload);
        }

        Assert.That(await CountsAsync(), Is.EqualTo((0L, 0L)));
    }

    [Test]
    public async Task Identical_images_are_stored_once_for_many_releases()
    {
        byte[] image = [0xE9, 5, 5, 5];

        await _store.CreateAsync(Release("1.0.0", image), CancellationToken.None);
        await _store.CreateAsync(Release("1.0.1", image), CancellationToken.None);
        await _store.CreateAsync(Release("1.0.0", image, model: "esp32-c3"), CancellationToken.None);

        Assert.That(await CountsAsync(), Is.EqualTo((1L, 3L)));
    }

    [Test]
    public async Task A_release_is_found_by_precedence_whatever_its_build_metadata()
    {
        await _store.CreateAsync(Release("2.0.0-rc.1+build.9", [0xE9, 6]), CancellationToken.None);

        Assert.That((await _store.FindAsync("esp32", FirmwareVersion.Parse("v2.0.0-rc.1"), CancellationToken.None))?.Version, Is.EqualTo("2.0.0-rc.1+build.9"));
        Assert.That(await _store.FindAsync("esp32", FirmwareVersion.Parse("2.0.0-rc.2"), CancellationToken.None), Is.Null);
        Assert.That(await _store.FindAsync("esp32", FirmwareVersion.Parse("2.0.0"), CancellationToken.None), Is.Null);
    }

    [Test]
    public async Task Withdrawing_pauses_only_the_active_rollouts_of_that_release_and_happens_once()
    {
        var release = (await _store.CreateAsync(Release("1.0.0", [0xE9, 7]), CancellationToken.None))!;
        var other = (await _store.CreateAsync(Release("1.1.0", [0xE9, 8]), CancellationToken.None))!;
        await using (var connection = await _db.DataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("""
                insert into rollouts (name, release_id, firmware_version, device_model, target_type, is_active) values
                  ('a', @release, '1.0.0', 'esp32', 'all', true),
                  ('b', @release, '1.0.0', 'esp32', 'all', false),
                  ('c', @other, '1.1.0', 'esp32', 'all', true)
                """, new { release = release.Id, other = other.Id });
        }

        var first = await _store.WithdrawAsync(release.Id, "why", "release 1.0.0 withdrawn: why", CancellationToken.None);
        var second = await _store.WithdrawAsync(release.Id, "again", "release 1.0.0 withdrawn: again", CancellationToken.None);

        Assert.That(first!.PausedRollouts, Is.EqualTo(new[] { "a" }));
        Assert.That(first.Release.WithdrawnReason, Is.EqualTo("why"));
        Assert.That(second, Is.Null);
        await using var check = await _db.DataSource.OpenConnectionAsync();
        var rollouts = (await check.QueryAsync<(string, bool, string?)>("select name, is_active, pause_reason from rollouts order by name")).ToList();
        Assert.That(rollouts, Is.EqualTo(new[] { ("a", false, (string?)"release 1.0.0 withdrawn: why"), ("b", false, (string?)null), ("c", true, (string?)null) }));
        var events = (await check.QueryAsync<(string, string, string)>("select rollout_name, kind, data::text from rollout_events")).ToList();
        Assert.That(events, Is.EqualTo(new[] { ("a", "rollout.paused", """{"actor": null, "reason": "release 1.0.0 withdrawn: why"}""") }),
            "the pause is told, in the withdrawal's transaction, for the rollout it paused only");
    }

    private static NewRelease Release(string version, byte[] image, string model = "esp32") => new(
        version, model, Convert.ToHexStringLower(SHA256.HashData(image)), image, null, null, null, null, null, null, "test");

    private async Task<(long Binaries, long Releases)> CountsAsync()
    {
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<long>("select count(*) from firmware_binaries"),
                await connection.ExecuteScalarAsync<long>("select count(*) from firmware_releases"));
    }
}

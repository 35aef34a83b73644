using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.Artifacts;
using Paku.Ota.Infrastructure.Artifacts;
using Paku.Ota.Infrastructure.Caching;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Artifacts;

/// <summary>Image storage on real PostgreSQL and real files: the directory store, uploads into it, the
/// in-memory image cache (one copy per image) and <c>artifacts-move</c>'s mover.</summary>
[NonParallelizable]
public sealed class ArtifactStoreTests
{
    private TestDatabase _db = null!;
    private string _root = null!;
    private DirectoryArtifactStore _directory = null!;
    private ArtifactStores _stores = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_artifacts");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _root = Directory.CreateTempSubdirectory("paku-artifacts-").FullName;
        _directory = new DirectoryArtifactStore(_root, NullLogger<DirectoryArtifactStore>.Instance);
        _stores = new ArtifactStores(new PostgresArtifactStore(_db.DataSource, NullLogger<PostgresArtifactStore>.Instance), _directory, ArtifactStoreKind.Directory);
    }

    [TearDown]
    public void RemoveFolder() => Directory.Delete(_root, recursive: true);

    [Test]
    public async Task A_stored_file_is_named_by_its_sha256_world_readable_and_leaves_no_temporary_file()
    {
        var image = FleetData.Image(100_000);
        var sha = Sha(image);

        await _directory.PutAsync(sha, image, CancellationToken.None);

        var path = Path.Combine(_root, sha[..2], sha);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(image));
        Assert.That(Directory.GetFiles(_root, "*", SearchOption.AllDirectories), Is.EqualTo(new[] { path }));
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(File.GetUnixFileMode(path) & UnixFileMode.OtherRead, Is.EqualTo(UnixFileMode.OtherRead), "nginx must be able to read it");
        }

        Assert.That(await _directory.ReadAsync(sha, CancellationToken.None), Is.EqualTo(image));
    }

    [Test]
    public async Task A_damaged_file_is_refused_on_read_and_replaced_by_the_next_put()
    {
        var image = FleetData.Image(50_000);
        var sha = Sha(image);
        await _directory.PutAsync(sha, image, CancellationToken.None);
        var path = Path.Combine(_root, sha[..2], sha);
        var damaged = (byte[])image.Clone();
        damaged[25_000] ^= 0x01;
        File.WriteAllBytes(path, damaged);

        var refused = await Assert.ThrowsAsync<CorruptArtifactException>(() => _directory.ReadAsync(sha, CancellationToken.None));
        Assert.That(refused!.Message, Does.Contain(sha).And.Contain("damaged"));

        await _directory.PutAsync(sha, image, CancellationToken.None);
        Assert.That(await _directory.ReadAsync(sha, CancellationToken.None), Is.EqualTo(image));
    }

    [Test]
    public async Task Bytes_that_do_not_match_the_name_are_not_stored()
    {
        var image = FleetData.Image(1000);
        await Assert.ThrowsAsync<ArgumentException>(() => _directory.PutAsync(Sha([1, 2, 3]), image, CancellationToken.None));
        Assert.That(Directory.GetFiles(_root, "*", SearchOption.AllDirectories), Is.Empty);
    }

    [Test]
    public async Task An_upload_to_the_directory_store_keeps_the_row_and_only_the_file_holds_the_bytes()
    {
        var store = new ReleaseStore(_db.DataSource, _directory);
        var image = FleetData.Image(20_000);

        await store.CreateAsync(Release("1.0.0", image), CancellationToken.None);

        await using var c = await _db.DataSource.OpenConnectionAsync();
        var row = await c.QuerySingleAsync<(string Store, byte[]? Content, long Size)>("select store, content, size_bytes from firmware_binaries");
        Assert.That(row, Is.EqualTo(("directory", (byte[]?)null, 20_000L)));
        Assert.That(File.ReadAllBytes(Path.Combine(_root, Sha(image)[..2], Sha(image))), Is.EqualTo(image));
    }

    [Test]
    public async Task The_cache_reads_each_image_from_the_store_its_row_names_and_refuses_a_damaged_one()
    {
        var inDatabase = FleetData.Image(3000, seed: 1);
        var inDirectory = FleetData.Image(3000, seed: 2);
        await new ReleaseStore(_db.DataSource).CreateAsync(Release("1.0.0", inDatabase), CancellationToken.None);
        await new ReleaseStore(_db.DataSource, _directory).CreateAsync(Release("1.1.0", inDirectory), CancellationToken.None);
        var cache = Cache(maxBytes: 1 << 20);

        using (var a = await cache.AcquireAsync(Sha(inDatabase), CancellationToken.None))
        using (var b = await cache.AcquireAsync(Sha(inDirectory), CancellationToken.None))
        {
            Assert.That(a!.Content.ToArray(), Is.EqualTo(inDatabase));
            Assert.That(b!.Content.ToArray(), Is.EqualTo(inDirectory));
        }

        var damaged = FleetData.Image(3000, seed: 3);
        await new ReleaseStore(_db.DataSource, _directory).CreateAsync(Release("1.2.0", damaged), CancellationToken.None);
        File.WriteAllBytes(Path.Combine(_root, Sha(damaged)[..2], Sha(damaged)), inDatabase);
        await Assert.ThrowsAsync<CorruptArtifactException>(async () => await cache.AcquireAsync(Sha(damaged), CancellationToken.None));
        Assert.That(await cache.AcquireAsync(Sha(FleetData.Image(10, seed: 9)), CancellationToken.None), Is.Null, "an image nobody stored");
    }

    [Test]
    public async Task Concurrent_downloads_of_one_image_share_one_copy_even_when_it_is_larger_than_the_cache()
    {
        // 64 KiB image, 16 KiB budget: it is never cached between downloads, yet while any download holds it
        // every other download gets that same array, not a copy of its own
        var image = FleetData.Image(64 * 1024);
        await new ReleaseStore(_db.DataSource).CreateAsync(Release("1.0.0", image), CancellationToken.None);
        var cache = Cache(maxBytes: 16 * 1024);

        var first = await cache.AcquireAsync(Sha(image), CancellationToken.None);
        var others = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => cache.AcquireAsync(Sha(image), CancellationToken.None).AsTask()));

        Assert.That(others.Count(l => !ReferenceEquals(ArrayOf(l!), ArrayOf(first!))), Is.Zero, "downloads that got a copy of their own");
        Assert.That(cache.ImagesInMemory, Is.EqualTo(1));

        foreach (var lease in others)
        {
            lease!.Dispose();
        }

        Assert.That(cache.ImagesInMemory, Is.EqualTo(1), "the first download still holds it");
        first!.Dispose();
        first.Dispose(); // a second dispose releases nothing more
        Assert.That(cache.ImagesInMemory, Is.Zero, "over the budget, it leaves memory with its last download");
    }

    [Test]
    public async Task An_image_pushed_out_of_the_cache_while_downloaded_is_still_the_one_copy_for_new_downloads()
    {
        var a = FleetData.Image(10_000, seed: 1);
        var b = FleetData.Image(10_000, seed: 2);
        var store = new ReleaseStore(_db.DataSource);
        await store.CreateAsync(Release("1.0.0", a), CancellationToken.None);
        await store.CreateAsync(Release("1.1.0", b), CancellationToken.None);
        var cache = Cache(maxBytes: 15_000); // room for one of them

        using var holdA = await cache.AcquireAsync(Sha(a), CancellationToken.None);
        using (await cache.AcquireAsync(Sha(b), CancellationToken.None))
        {
            // b pushed a out of the budget; a is still being downloaded
            using var againA = await cache.AcquireAsync(Sha(a), CancellationToken.None);
            Assert.That(ReferenceEquals(ArrayOf(againA!), ArrayOf(holdA!)), Is.True, "a second copy of a was loaded");
            Assert.That(cache.ImagesInMemory, Is.EqualTo(2));
        }
    }

    [Test]
    public async Task Moving_to_the_directory_and_back_verifies_every_copy_and_running_it_again_moves_nothing()
    {
        var images = Enumerable.Range(1, 3).Select(i => FleetData.Image(5000 + i, seed: i)).ToArray();
        var store = new ReleaseStore(_db.DataSource);
        for (var i = 0; i < images.Length; i++)
        {
            await store.CreateAsync(Release($"1.{i}.0", images[i]), CancellationToken.None);
        }

        var mover = new ArtifactMover(_db.DataSource, _stores);
        var toDirectory = await mover.MoveAllAsync(ArtifactStoreKind.Directory, _ => { }, CancellationToken.None);
        var again = await mover.MoveAllAsync(ArtifactStoreKind.Directory, _ => { }, CancellationToken.None);

        Assert.That(toDirectory, Is.EqualTo(new MoveReport(3, 0, [])).Using<MoveReport>(SameReport));
        Assert.That(again, Is.EqualTo(new MoveReport(0, 3, [])).Using<MoveReport>(SameReport));
        await using var c = await _db.DataSource.OpenConnectionAsync();
        Assert.That(await c.ExecuteScalarAsync<long>("select count(*) from firmware_binaries where store = 'directory' and content is null"), Is.EqualTo(3));
        foreach (var image in images)
        {
            Assert.That(await _directory.ReadAsync(Sha(image), CancellationToken.None), Is.EqualTo(image));
        }

        // one file is damaged before the way back: it is refused and stays where it is; the others move
        File.WriteAllBytes(Path.Combine(_root, Sha(images[1])[..2], Sha(images[1])), images[0]);
        var back = await mover.MoveAllAsync(ArtifactStoreKind.PostgreSql, _ => { }, CancellationToken.None);

        Assert.That((back.Moved, back.AlreadyThere), Is.EqualTo((2, 0)));
        Assert.That(back.Failures, Has.Count.EqualTo(1).And.Some.Contains(Sha(images[1])).And.Some.Contains("damaged"));
        Assert.That(await c.QueryAsync<string>("select sha256 from firmware_binaries where store = 'directory'"), Is.EqualTo(new[] { Sha(images[1]) }));
        Assert.That(await new PostgresArtifactStore(_db.DataSource, NullLogger<PostgresArtifactStore>.Instance).ReadAsync(Sha(images[0]), CancellationToken.None), Is.EqualTo(images[0]));

        // repaired, a second run finishes the job
        File.WriteAllBytes(Path.Combine(_root, Sha(images[1])[..2], Sha(images[1])), images[1]);
        var finish = await mover.MoveAllAsync(ArtifactStoreKind.PostgreSql, _ => { }, CancellationToken.None);
        Assert.That(finish, Is.EqualTo(new MoveReport(1, 2, [])).Using<MoveReport>(SameReport));
    }

    private static bool SameReport(MoveReport x, MoveReport y) =>
        x.Moved == y.Moved && x.AlreadyThere == y.AlreadyThere && x.Failures.SequenceEqual(y.Failures);

    private ImageCache Cache(long maxBytes) =>
        new(_db.DataSource, _stores, new BinaryCacheOptions { MaxBytes = maxBytes }, NullLogger<ImageCache>.Instance);

    private static byte[] ArrayOf(ImageLease lease) =>
        MemoryMarshal.TryGetArray(lease.Content, out var segment) ? segment.Array! : throw new AssertionException("not array-backed");

    private static string Sha(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    private static NewRelease Release(string version, byte[] content) =>
        new(version, "esp32", Sha(content), content, null, null, null, null, null, null, "test");
}

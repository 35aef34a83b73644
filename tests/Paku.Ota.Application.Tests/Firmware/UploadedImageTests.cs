using System.Security.Cryptography;
using Paku.Ota.Application.Firmware.UploadRelease;

namespace Paku.Ota.Application.Tests.Firmware;

public sealed class UploadedImageTests
{
    [Test]
    public async Task An_image_within_the_limit_is_read_whole_with_its_sha256_and_size()
    {
        var bytes = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31)).ToArray();

        var image = await UploadedImage.ReadAsync(new TrickleStream(bytes, 7_001), limit: 300_000, sizeHint: null, CancellationToken.None);

        Assert.That(image.ExceedsLimit, Is.False);
        Assert.That(image.Length, Is.EqualTo(300_000));
        Assert.That(image.Content.ToArray(), Is.EqualTo(bytes));
        Assert.That(image.Sha256, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes))));
    }

    [Test]
    public async Task Reading_stops_one_byte_past_the_limit_however_much_more_is_sent()
    {
        var endless = new EndlessStream();

        var image = await UploadedImage.ReadAsync(endless, limit: 1_000_000, sizeHint: 50_000_000, CancellationToken.None);

        Assert.That(image.ExceedsLimit, Is.True);
        Assert.That(image.Length, Is.EqualTo(1_000_001));
        Assert.That(endless.Served, Is.EqualTo(1_000_001), "nothing past limit + 1 may be read");
        Assert.That(image.Content.Length, Is.EqualTo(1_000_001));
    }

    [TestCase(10, 10, false)]
    [TestCase(10, 11, true)]
    [TestCase(10, 5000, true)]
    public async Task A_limit_smaller_than_one_read_still_cuts_at_limit_plus_one(int limit, int sent, bool exceeds)
    {
        var image = await UploadedImage.ReadAsync(new MemoryStream(new byte[sent]), limit, sizeHint: null, CancellationToken.None);

        Assert.That((image.ExceedsLimit, image.Length), Is.EqualTo((exceeds, (long)Math.Min(sent, limit + 1))));
    }

    [Test]
    public async Task An_empty_stream_is_an_empty_image()
    {
        var image = await UploadedImage.ReadAsync(new MemoryStream(), limit: 10, sizeHint: 0, CancellationToken.None);

        Assert.That((image.Length, image.ExceedsLimit), Is.EqualTo((0L, false)));
    }

    /// <summary>Hands out data in small, uneven reads, as a network stream does.</summary>
    private sealed class TrickleStream(byte[] data, int step) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, step)], cancellationToken);
    }

    private sealed class EndlessStream : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            buffer.AsSpan(offset, count).Fill(0xE9);
            Served += count;
            return count;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

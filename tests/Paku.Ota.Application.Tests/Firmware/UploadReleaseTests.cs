using System.Security.Cryptography;
using System.Text;
using NSubstitute;
using Paku.Ota.Application.Common;
using Paku.Ota.Application.Firmware;
using Paku.Ota.Application.Firmware.UploadRelease;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Tests.Firmware;

public sealed class UploadReleaseTests
{
    private static readonly byte[] Image = [0xE9, 0x03, 0x02, 0x20];

    private IReleaseStore _store = null!;
    private FakeVerifier _verifier = null!;

    [SetUp]
    public void StoreAccepts()
    {
        _store = Substitute.For<IReleaseStore>();
        _store.CreateAsync(Arg.Any<NewRelease>(), Arg.Any<CancellationToken>()).Returns(c => Stored(c.Arg<NewRelease>()));
        _verifier = new FakeVerifier();
    }

    [Test]
    public async Task A_tag_version_is_stored_normalised_with_the_image_hash_and_the_actor()
    {
        var result = await Handle(Upload("v1.2.0", minVersion: "v1.0.0"));

        Assert.That(result.IsSuccess, Is.True);
        await _store.Received(1).CreateAsync(Arg.Is<NewRelease>(r =>
            r.Version == "1.2.0" && r.MinVersion == "1.0.0" && r.ChecksumSha256 == Convert.ToHexStringLower(SHA256.HashData(Image))
            && r.CreatedBy == "ci" && r.Signature == null), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_verified_signature_is_stored_with_its_algorithm_and_key()
    {
        byte[] signature = [1, 2, 3];
        _verifier = new FakeVerifier { KeyIds = ["k1"], Answer = new VerifiedSignature("k1", SignatureAlgorithms.EcdsaP256Sha256) };

        var result = await Handle(Upload("1.0.0", isSigned: "true", signature: signature));

        Assert.That(result.IsSuccess, Is.True);
        await _store.Received(1).CreateAsync(Arg.Is<NewRelease>(r =>
            r.Signature!.SequenceEqual(signature) && r.SignatureAlgorithm == "ecdsa-p256-sha256" && r.SigningKeyId == "k1"), Arg.Any<CancellationToken>());
    }

    [Test]
    public async Task A_base64_signature_is_decoded_before_it_is_verified()
    {
        byte[] signature = [0x30, 0x45, 0x02, 0x21, 0x00, 0xFF];
        _verifier = new FakeVerifier { KeyIds = ["k1"], Answer = new VerifiedSignature("k1", SignatureAlgorithms.RsaPkcs1Sha256) };

        await Handle(Upload("1.0.0", signature: Encoding.ASCII.GetBytes(Convert.ToBase64String(signature) + "\r\n")));

        Assert.That(_verifier.Asked, Is.EqualTo(signature));

        await _store.Received(1).CreateAsync(Arg.Is<NewRelease>(r => r.Signature!.SequenceEqual(signature)), Arg.Any<CancellationToken>());
    }

    [TestCase(true, false, null, "is_signed=true, but no signature was sent")]
    [TestCase(false, true, null, "accepts signed firmware only")]
    [TestCase(true, false, "sig", "no signing key is configured")]
    [TestCase(false, false, "sig", "no signing key is configured")]
    public async Task Signature_rules_refuse_with_422_and_store_nothing(bool markedSigned, bool requireSigned, string? signature, string reason)
    {
        _verifier = new FakeVerifier { RequireSigned = requireSigned };

        var result = await Handle(Upload("1.0.0", isSigned: markedSigned ? "true" : null, signature: signature is null ? null : Encoding.ASCII.GetBytes(signature)));

        Assert.That(result.Error!.Kind, Is.EqualTo(ErrorKind.Unprocessable));
        Assert.That(result.Error.Detail, Does.Contain(reason));
        Assert.That(result.Error.Fields!.Keys, Is.EquivalentTo(new[] { "signature" }));
        await _store.DidNotReceiveWithAnyArgs().CreateAsync(default!, default);
    }

    [Test]
    public async Task A_signature_no_key_verifies_is_422_listing_the_keys_tried()
    {
        _verifier = new FakeVerifier { KeyIds = ["old", "new"] };

        var result = await Handle(Upload("1.0.0", signature: [9, 9, 9]));

        Assert.That(result.Error!.Detail, Does.Contain("does not verify with any configured key (old, new)"));
        await _store.DidNotReceiveWithAnyArgs().CreateAsync(default!, default);
    }

    [Test]
    public async Task A_version_that_exists_is_a_conflict_naming_the_stored_version()
    {
        _store.CreateAsync(Arg.Any<NewRelease>(), Arg.Any<CancellationToken>()).Returns((ReleaseRecord?)null);
        _store.FindAsync("esp32", Arg.Any<FirmwareVersion>(), Arg.Any<CancellationToken>())
            .Returns(Stored(new NewRelease("1.0.0+old", "esp32", "ab", Image, null, null, null, null, null, null, null)));

        var result = await Handle(Upload("1.0.0+new"));

        Assert.That(result.Error!.Kind, Is.EqualTo(ErrorKind.Conflict));
        Assert.That(result.Error.Detail, Does.StartWith("Release 1.0.0+old for device model 'esp32' already exists"));
    }

    [TestCase("TRUE", true)]
    [TestCase("on", true)]
    [TestCase("0", false)]
    [TestCase("", false)]
    [TestCase(null, false)]
    public void Flags_read_as_the_seed_service_read_them(string? text, bool expected)
    {
        Assert.That(QueryFlag.TryParse(text, out var value), Is.True);
        Assert.That(value, Is.EqualTo(expected));
    }

    [Test]
    public void Raw_signature_bytes_are_kept_as_they_are()
    {
        byte[] der = [0x30, 0x44, 0x02, 0x20, 0x11, 0x9F];

        Assert.That(SignatureText.Decode(der), Is.EqualTo(der));
        Assert.That(SignatureText.Decode("not base64!"u8.ToArray()), Is.EqualTo("not base64!"u8.ToArray()));
    }

    private ValueTask<Result<ReleaseRecord>> Handle(UploadRelease command) =>
        new UploadReleaseHandler(_store, _verifier).Handle(command, CancellationToken.None);

    private static UploadRelease Upload(string version, string? minVersion = null, string? isSigned = null, byte[]? signature = null) =>
        new(version, "esp32", minVersion, null, null, isSigned, null, UploadedImage.FromBytes(Image, 1024), signature, "ci");

    private sealed class FakeVerifier : ISignatureVerifier
    {
        public bool RequireSigned { get; init; }

        public IReadOnlyList<string> KeyIds { get; init; } = [];

        public VerifiedSignature? Answer { get; init; }

        public byte[]? Asked { get; private set; }

        public VerifiedSignature? Verify(ReadOnlySpan<byte> sha256, ReadOnlySpan<byte> signature)
        {
            Assert.That(sha256.ToArray(), Is.EqualTo(SHA256.HashData(Image)));
            Asked = signature.ToArray();
            return Answer;
        }
    }

    private static ReleaseRecord Stored(NewRelease r) => new(
        1, r.Version, r.DeviceModel, r.ChecksumSha256, r.Content.Length, r.MinVersion, r.Changelog, r.ReleaseNotes, r.Signature is not null,
        r.Signature, r.SignatureAlgorithm, r.SigningKeyId, r.CreatedBy, DateTimeOffset.UtcNow, null, null);
}

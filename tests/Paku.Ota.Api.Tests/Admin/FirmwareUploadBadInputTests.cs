using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>Every way an upload can be wrong is a 4xx problem+json that names the field or the reason,
/// and leaves both firmware tables empty. Signing keys are configured here, and the limit is 64 KiB.</summary>
public sealed class FirmwareUploadBadInputTests
{
    private const int Limit = 64 * 1024;
    private const string Good = "version=1.0.0&device_model=esp32";

    private TestSigningKeys _keys = null!;
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    /// <summary>One bad request: how to make it, the status, the field named in the problem's errors
    /// (null when the problem carries no field, as for authentication), and words of the reason.</summary>
    public sealed record BadUpload(string Name, Func<TestSigningKeys, HttpRequestMessage> Build, HttpStatusCode Status, string? Field, string Reason)
    {
        public override string ToString() => Name;
    }

    private static readonly BadUpload[] Uploads =
    [
        // query
        Query("missing version", "device_model=esp32", "version", "version is required"),
        Query("version without a patch", "version=1.2&device_model=esp32", "version", "'1.2' is not a valid version"),
        Query("version that is a word", "version=latest&device_model=esp32", "version", "'latest' is not a valid version"),
        Query("version with a leading zero", "version=01.0.0&device_model=esp32", "version", "leading zero"),
        Query("version with two v's", "version=vv1.0.0&device_model=esp32", "version", "single leading 'v'"),
        Query("empty version", "version=&device_model=esp32", "version", "version is required"),
        Query("missing device_model", "version=1.0.0", "device_model", "device_model is required"),
        Query("device_model with a space", "version=1.0.0&device_model=esp%2032", "device_model", "contains U+0020"),
        Query("device_model with a slash", "version=1.0.0&device_model=esp32%2F..", "device_model", "contains '/'"),
        Query("device_model too long", $"version=1.0.0&device_model={new string('m', 65)}", "device_model", "at most 64"),
        Query("min_version that is no version", $"{Good}&min_version=abc", "min_version", "'abc' is not a valid version"),
        Query("is_signed that is no flag", $"{Good}&is_signed=maybe", "is_signed", "is_signed must be true or false"),
        Query("skip_image_check that is no flag", $"{Good}&skip_image_check=2", "skip_image_check", "skip_image_check must be true or false"),
        Query("release_notes too long", $"{Good}&release_notes={new string('n', 10_001)}", "release_notes", "at most 10000"),
        Query("changelog too long", $"{Good}&changelog={new string('c', 10_001)}", "changelog", "at most 10000"),

        // body and multipart
        Body("no body at all", null, null, "file", "must be multipart/form-data: send the image as multipart/form-data part 'file'"),
        Body("a JSON body", "{\"file\":\"AAAA\"}", "application/json", "file", "its Content-Type is 'application/json'"),
        Body("a url-encoded form", "file=abc", "application/x-www-form-urlencoded", "file", "must be multipart/form-data"),
        Body("multipart/mixed", Multipart("file", "firmware.bin", "\u00e9abc"), "multipart/mixed; boundary=XyZ", "file", "must be multipart/form-data"),
        Body("multipart without a boundary", Multipart("file", "firmware.bin", "\u00e9abc"), "multipart/form-data", "file", "boundary"),
        Body("multipart with a 71-character boundary", "x", $"multipart/form-data; boundary={new string('b', 71)}", "file", "boundary"),
        Body("multipart without the closing boundary", "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n\r\n\u00e9abc",
            "multipart/form-data; boundary=XyZ", "file", "incomplete"),
        Body("garbage where the multipart should be", "this is not multipart at all", "multipart/form-data; boundary=XyZ", "file", "incomplete"),
        Body("multipart with no part", "--XyZ--\r\n", "multipart/form-data; boundary=XyZ", "file", "file is required"),
        Body("a part without Content-Disposition", "--XyZ\r\nContent-Type: application/octet-stream\r\n\r\n\u00e9abc\r\n--XyZ--\r\n",
            "multipart/form-data; boundary=XyZ", "file", "Content-Disposition"),
        Body("a part with a header line that never ends", $"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; x=\"{new string('h', 20_000)}\"\r\n\r\n\u00e9\r\n--XyZ--\r\n",
            "multipart/form-data; boundary=XyZ", "file", "malformed"),
        Form("the image under part 'firmware'", _ => FirmwareTestKit.Form(EspImage(), filePart: "firmware"), Good, "file", "Unexpected multipart part 'firmware'"),
        Form("the image under part 'File'", _ => FirmwareTestKit.Form(EspImage(), filePart: "File"), Good, "file", "Unexpected multipart part 'File'"),
        Form("only a signature part", k => FirmwareTestKit.Form(null, SignRsa(k.Rsa, EspImage())), Good, "file", "file is required"),
        Form("two file parts", _ => TwoParts("file", EspImage(), "file", EspImage(seed: 2)), Good, "file", "more than one 'file' part"),
        Form("an empty file", _ => FirmwareTestKit.Form([]), Good, "file", "file is empty"),
        Form("a file without the 0xE9 magic byte", _ => FirmwareTestKit.Form("plain text, no image"u8.ToArray()), Good, "file",
            "does not start with the ESP app-image magic byte 0xE9: it starts with 0x70"),
        Form("an ELF file", _ => FirmwareTestKit.Form([0x7F, .. "ELF"u8, 1, 1, 1, 0]), Good, "file", "it is an ELF file"),
        Form("a file one byte over the limit", _ => FirmwareTestKit.Form(EspImage(Limit + 1)), Good, "file", $"larger than the upload limit of {Limit} bytes (64 KiB)"),
        Form("a file far over the limit", _ => FirmwareTestKit.Form(EspImage(3 * 1024 * 1024)), Good, "file", "larger than the upload limit"),

        // signatures
        Signed("a signature made with a key the service does not know", k => SignRsa(k.Stranger, EspImage()), EspImage(),
            "does not verify with any configured key (rsa-2026, ec-2026)"),
        Signed("a tampered file with the RSA signature of the original", k => SignRsa(k.Rsa, EspImage(seed: 1)), EspImage(seed: 2),
            "does not verify"),
        Signed("a tampered file with the ECDSA signature of the original", k => SignEcdsa(k.Ec, EspImage(seed: 1)), EspImage(seed: 2),
            "does not verify"),
        Signed("garbage signature bytes", _ => [0x00, 0xFF, 0x13, 0x37, 0x42, 0x99, 0xAB], EspImage(), "does not verify"),
        Signed("a 256-byte garbage signature", _ => Enumerable.Range(0, 256).Select(i => (byte)(i * 7)).ToArray(), EspImage(), "does not verify"),
        Signed("garbage base64 text", _ => "bm90IGEgc2lnbmF0dXJl"u8.ToArray(), EspImage(), "does not verify"),
        Signed("the signature of the SHA-256 instead of the file", k => SignRsa(k.Rsa, System.Security.Cryptography.SHA256.HashData(EspImage())),
            EspImage(), "does not verify"),
        new("is_signed=true without a signature", _ => Post($"{Good}&is_signed=true", FirmwareTestKit.Form(EspImage())),
            HttpStatusCode.UnprocessableEntity, "signature", "is_signed=true, but no signature was sent"),
        Form("an empty signature part", _ => FirmwareTestKit.Form(EspImage(), []), Good, "signature", "signature is empty"),
        Form("a signature part of 5000 bytes", _ => FirmwareTestKit.Form(EspImage(), new byte[5000]), Good, "signature", "larger than 4096 bytes"),
        Form("two signature parts", k => TwoParts("signature", SignRsa(k.Rsa, EspImage()), "signature", SignRsa(k.Rsa, EspImage())), Good,
            "signature", "more than one 'signature' part"),

        // headers
        new("an unknown API key", _ => WithKey(Post(Good, FirmwareTestKit.Form(EspImage())), "not-a-key"), HttpStatusCode.Unauthorized, null,
            "not a known key"),
        new("two API keys", _ => WithKey(WithKey(Post(Good, FirmwareTestKit.Form(EspImage())), ApiFactory.WriteKey), ApiFactory.WriteKey),
            HttpStatusCode.Unauthorized, null, "Send one X-API-Key header"),
        new("the read key", _ => WithKey(Post(Good, FirmwareTestKit.Form(EspImage())), ApiFactory.ReadKey), HttpStatusCode.Forbidden, null,
            "needs a key with write scope"),
    ];

    [OneTimeSetUp]
    public async Task Start()
    {
        _keys = new TestSigningKeys();
        var settings = _keys.Settings();
        settings["Ota:Upload:MaxBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware", settings);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
        _keys.Dispose();
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [TestCaseSource(nameof(Uploads))]
    public async Task A_bad_upload_is_refused_naming_why_and_stores_nothing(BadUpload bad)
    {
        using var client = _factory.CreateClient();
        using var request = bad.Build(_keys);
        if (!request.Headers.Contains("X-API-Key"))
        {
            request.Headers.Add("X-API-Key", ApiFactory.WriteKey);
        }

        var response = await client.SendAsync(request);
        var text = await response.ProblemTextAsync();

        Assert.That(response.StatusCode, Is.EqualTo(bad.Status), text);
        Assert.That(text, Does.Contain(bad.Reason));
        if (bad.Field is not null)
        {
            Assert.That(await response.ProblemFieldsAsync(), Does.Contain(bad.Field), text);
        }

        await AssertNothingStoredAsync(_db);
    }

    [Test]
    public async Task A_valid_upload_passes_the_same_fixture()
    {
        using var client = _factory.CreateAdminClient();
        var image = EspImage(Limit);

        var response = await client.UploadAsync(Good, image, SignEcdsa(_keys.Ec, image));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Created), await response.Content.ReadAsStringAsync());
    }

    private static HttpRequestMessage Post(string query, HttpContent? content) =>
        new(HttpMethod.Post, $"{Upload}?{query}") { Content = content };

    private static HttpRequestMessage WithKey(HttpRequestMessage request, string key)
    {
        request.Headers.TryAddWithoutValidation("X-API-Key", key);
        return request;
    }

    private static BadUpload Query(string name, string query, string field, string reason) =>
        new(name, _ => Post(query, FirmwareTestKit.Form(EspImage())), HttpStatusCode.BadRequest, field, reason);

    private static BadUpload Form(string name, Func<TestSigningKeys, HttpContent> form, string query, string field, string reason) =>
        new(name, k => Post(query, form(k)), HttpStatusCode.BadRequest, field, reason);

    private static BadUpload Signed(string name, Func<TestSigningKeys, byte[]> signature, byte[] image, string reason) =>
        new(name, k => Post($"{Good}&is_signed=true", FirmwareTestKit.Form(image, signature(k))), HttpStatusCode.UnprocessableEntity, "signature", reason);

    private static BadUpload Body(string name, string? body, string? contentType, string field, string reason) =>
        new(name, _ =>
        {
            HttpContent? content = null;
            if (body is not null)
            {
                content = new ByteArrayContent(Encoding.Latin1.GetBytes(body));
                content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            return Post(Good, content);
        }, HttpStatusCode.BadRequest, field, reason);

    private static string Multipart(string name, string fileName, string content) =>
        $"--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{fileName}\"\r\n\r\n{content}\r\n--XyZ--\r\n";

    private static MultipartFormDataContent TwoParts(string firstName, byte[] first, string secondName, byte[] second) => new()
    {
        { new ByteArrayContent(first), firstName, "a.bin" },
        { new ByteArrayContent(second), secondName, "b.bin" },
    };
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Paku.Ota.Testing;
using static Paku.Ota.Api.Tests.Admin.FirmwareTestKit;

namespace Paku.Ota.Api.Tests.Admin;

/// <summary>A device model is one model whatever case it is sent in (lower case is its one form): an upload
/// for "ESP32" is the model esp32, a rollout and a filter for "Esp32" find it, and a device checking in
/// as "ESP32" is offered it.</summary>
public sealed class DeviceModelCaseTests
{
    private TestDatabase _db = null!;
    private ApiFactory _factory = null!;

    [OneTimeSetUp]
    public async Task Start() => (_db, _factory) = await ApiFactory.StartAsync("paku_test_firmware");

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _factory.DisposeAsync();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _factory.RefreshCatalog();
    }

    [Test]
    public async Task Mixed_case_models_in_upload_rollout_filters_and_check_are_one_model()
    {
        using var admin = _factory.CreateAdminClient();
        using var device = _factory.CreateClient();

        var uploaded = await admin.UploadAsync("version=1.2.0&device_model=ESP32", EspImage());
        var duplicate = await admin.UploadAsync("version=1.2.0&device_model=esp32", EspImage(seed: 2));
        var rollout = await admin.PostAsJsonAsync("/api/admin/rollout/create", new
        {
            name = "mixed", firmware_version = "1.2.0", device_model = "Esp32", target_type = "all", rollout_percentage = 100,
        });
        var check = await device.GetFromJsonAsync<JsonElement>("/api/firmware/check?device_id=esp32_001&device_model=ESP32&current_version=1.0.0");
        var download = await device.GetAsync("/api/firmware/download/1.2.0?device_model=eSp32");
        var releases = await admin.GetFromJsonAsync<JsonElement>("/api/admin/firmware/releases?device_model=ESP32");
        var devices = await admin.GetFromJsonAsync<JsonElement>("/api/admin/devices?device_model=Esp32");
        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var models = (await connection.QueryAsync<string>(
            "select device_model from firmware_releases union select device_model from rollouts union select device_model from devices")).ToList();

        Assert.That(uploaded.StatusCode, Is.EqualTo(HttpStatusCode.Created), await uploaded.Content.ReadAsStringAsync());
        Assert.That((await uploaded.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("device_model").GetString(), Is.EqualTo("esp32"));
        Assert.That(duplicate.StatusCode, Is.EqualTo(HttpStatusCode.Conflict), "the same release, not a second model");
        Assert.That(rollout.StatusCode, Is.EqualTo(HttpStatusCode.Created), await rollout.Content.ReadAsStringAsync());
        Assert.That(check.GetProperty("update_available").GetBoolean(), Is.True);
        Assert.That(check.GetProperty("rollout").GetString(), Is.EqualTo("mixed"));
        Assert.That(download.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(releases.GetProperty("releases").GetArrayLength(), Is.EqualTo(1));
        Assert.That(devices.GetProperty("total").GetInt64(), Is.EqualTo(1));
        Assert.That(models, Is.EqualTo(new[] { "esp32" }));
    }
}

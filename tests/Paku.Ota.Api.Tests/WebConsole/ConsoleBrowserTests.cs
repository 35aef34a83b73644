using Microsoft.Playwright;
using Paku.Ota.Api.Tests.Admin;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Testing;
using static Microsoft.Playwright.Assertions;

namespace Paku.Ota.Api.Tests.WebConsole;

/// <summary>The console in a real browser (chromium through Playwright) against the real service: an
/// operator's day from sign-in to a halted rollout resumed, what a read key may do, and the forms from the
/// keyboard. Each page is photographed under .local/console-screenshots.</summary>
[NonParallelizable]
public sealed class ConsoleBrowserTests
{
    private TestDatabase _db = null!;
    private TestSigningKeys _keys = null!;
    private RealServer _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_console_browser");
        _keys = new TestSigningKeys();
        _server = await RealServer.StartAsync(_db.ConnectionString, ConsoleBrowser.Settings(_keys));
        (_playwright, _browser) = await ConsoleBrowser.LaunchAsync();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _server.DisposeAsync();
        _keys.Dispose();
        await _db.DisposeAsync();
    }

    [SetUp]
    public async Task Reset()
    {
        await _db.ResetAsync();
        _server.Services.GetRequiredService<Paku.Ota.Application.Catalog.ICatalog>().Invalidate();
    }

    [Test]
    public async Task An_operator_signs_in_uploads_a_signed_release_creates_a_rollout_watches_it_halt_live_and_resumes_it()
    {
        var page = await ConsoleBrowser.NewPageAsync(_browser, _server);

        await page.GotoAsync("/console/rollouts");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/sign-in"));
        await ConsoleBrowser.ScreenshotAsync(page, "01-sign-in");
        await ConsoleBrowser.SignInAsync(page, ApiFactory.WriteKey, navigate: false);
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/rollouts$"), new() { Timeout = 10_000 });
        await Expect(page.Locator(".who")).ToContainTextAsync("test-writer");

        // upload a signed release
        await page.GotoAsync("/console/releases");
        var image = FirmwareTestKit.EspImage(8192, seed: 14);
        await page.GetByLabel("Device model").FillAsync("esp32");
        await page.GetByLabel("Version").First.FillAsync("v1.1.0");
        await page.GetByLabel("Firmware image").SetInputFilesAsync(new FilePayload { Name = "firmware.bin", MimeType = "application/octet-stream", Buffer = image });
        await page.GetByLabel("Signature").SetInputFilesAsync(new FilePayload { Name = "firmware.sig", MimeType = "application/octet-stream", Buffer = ConsoleBrowser.Sign(_keys, image) });
        await page.GetByLabel("Release notes").FillAsync("Faster boot");
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("Release 1.1.0 for esp32 uploaded");
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("signature verified with key rsa-2026");
        await Expect(page.Locator("table")).ToContainTextAsync("1.1.0");
        await ConsoleBrowser.ScreenshotAsync(page, "02-releases");

        // create a canary at 100 % that halts above 5 % after 3 attempts
        await page.GotoAsync("/console/rollouts");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("v1.1.0-canary");
        await page.GetByLabel("Release", new() { Exact = true }).SelectOptionAsync("esp32/1.1.0");
        await page.GetByLabel("Canary: a percentage").CheckAsync();
        await page.GetByLabel("Percentage of the targeted devices").FillAsync("100");
        await page.GetByLabel("…after at least this many attempts").FillAsync("3");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create rollout" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/rollouts/v1.1.0-canary$"));
        await Expect(page.Locator(".title-row [data-state]")).ToHaveTextAsync("active");

        // simulated devices check in and report through the device API; the open page follows without a reload
        var devices = new[] { "esp32_a", "esp32_b", "esp32_c" };
        var clients = new Dictionary<string, HttpClient>();
        foreach (var id in devices)
        {
            var certificate = _server.IssueDevice(id);
            clients[id] = _server.DeviceClient(certificate);
            Assert.That(await ConsoleBrowser.CheckAsync(clients[id], id, "1.0.0"), Is.True, $"{id} is offered 1.1.0");
        }

        var started = page.Locator("[data-count='Started']");
        await Expect(page.Locator("[data-count='Offered, not started']")).ToHaveTextAsync("3");
        await ConsoleBrowser.ReportAsync(clients["esp32_a"], "esp32_a", "1.1.0", "downloading", 40);
        await Expect(started).ToHaveTextAsync("1");
        await ConsoleBrowser.ScreenshotAsync(page, "03-rollout-in-progress");

        await ConsoleBrowser.ReportAsync(clients["esp32_b"], "esp32_b", "1.1.0", "downloading", 10);
        await ConsoleBrowser.ReportAsync(clients["esp32_b"], "esp32_b", "1.1.0", "failed", 10, "flash write failed at 0x10000");
        await ConsoleBrowser.ReportAsync(clients["esp32_c"], "esp32_c", "1.1.0", "downloading", 10);
        await ConsoleBrowser.ReportAsync(clients["esp32_c"], "esp32_c", "1.1.0", "failed", 10, "checksum mismatch");

        // the halt shows by itself, with its reason and the figures it was decided on
        var halt = page.Locator(".halt");
        await Expect(halt).ToBeVisibleAsync(new() { Timeout = 20_000 });
        await Expect(page.Locator(".title-row [data-state]")).ToHaveTextAsync("halted");
        await Expect(halt).ToContainTextAsync("Halted by its failure threshold");
        await Expect(halt.Locator(".figures")).ToContainTextAsync("Attempts");
        await Expect(halt.Locator(".figures")).ToContainTextAsync("3");
        await Expect(halt.Locator(".figures")).ToContainTextAsync("66.67 %");
        await Expect(page.Locator("[data-count='Failed, rolled back or timed out']")).ToHaveTextAsync("2");
        await ConsoleBrowser.ScreenshotAsync(page, "04-rollout-halted");

        // resume, through its confirmation
        await page.GetByRole(AriaRole.Link, new() { Name = "Resume…" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Resume v1.1.0-canary?" })).ToBeVisibleAsync();
        await Expect(page.Locator(".confirm")).ToContainTextAsync("It halted because");
        await ConsoleBrowser.ScreenshotAsync(page, "05-resume-confirmation");
        await page.GetByRole(AriaRole.Button, new() { Name = "Resume rollout" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("v1.1.0-canary resumed.");
        await Expect(page.Locator(".title-row [data-state]")).ToHaveTextAsync("active");

        // pause and raise each go through their own confirmation too
        await page.GetByRole(AriaRole.Link, new() { Name = "Pause…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause rollout" }).ClickAsync();
        await Expect(page.Locator(".title-row [data-state]")).ToHaveTextAsync("paused");

        // the pages an operator reads: overview, devices, one device with /explain, the audit log
        await page.GotoAsync("/console");
        await Expect(page.Locator(".tiles")).ToContainTextAsync("3");
        await ConsoleBrowser.ScreenshotAsync(page, "06-overview");
        await page.GotoAsync("/console/devices?status=failing");
        await Expect(page.Locator("tbody tr")).ToHaveCountAsync(2);
        await ConsoleBrowser.ScreenshotAsync(page, "07-devices-failing");
        await page.GetByRole(AriaRole.Link, new() { Name = "esp32_b" }).ClickAsync();
        await Expect(page.Locator("#explain-title")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-live='device-history']")).ToContainTextAsync("flash write failed at 0x10000");
        await Expect(page.Locator("[data-live='device']")).ToContainTextAsync("v1.1.0-canary");
        await page.GetByRole(AriaRole.Textbox, new() { Name = "Groups" }).FillAsync("lab, floor-2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save groups" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("esp32_b is in lab, floor-2 now.");
        await ConsoleBrowser.ScreenshotAsync(page, "08-device");
        await page.GotoAsync("/console/audit");
        await Expect(page.Locator("table.audit")).ToContainTextAsync("rollout.halt");
        await Expect(page.Locator("table.audit")).ToContainTextAsync("console.sign_in");
        await Expect(page.Locator("table.audit")).ToContainTextAsync("firmware.upload");
        await ConsoleBrowser.ScreenshotAsync(page, "09-audit");

        // the rollouts list, and a release withdrawn through its confirmation
        await page.GotoAsync("/console/rollouts");
        await Expect(page.Locator(".rollout-list")).ToContainTextAsync("v1.1.0-canary");
        await ConsoleBrowser.ScreenshotAsync(page, "09b-rollouts");
        await page.GotoAsync("/console/releases");
        await page.GetByRole(AriaRole.Link, new() { Name = "Withdraw…" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Withdraw release 1.1.0 for esp32?" })).ToBeVisibleAsync();
        await page.GetByLabel("Reason").FillAsync("bricks the radio");
        await ConsoleBrowser.ScreenshotAsync(page, "09c-withdraw-confirmation");
        await page.GetByRole(AriaRole.Button, new() { Name = "Withdraw 1.1.0" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("Release 1.1.0 for esp32 withdrawn");
        await Expect(page.Locator("tr.withdrawn")).ToContainTextAsync("withdrawn");

        // signing out ends the session
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/sign-in"));
        await page.GotoAsync("/console/rollouts");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/sign-in"));

        foreach (var client in clients.Values)
        {
            client.Dispose();
        }
    }

    [Test]
    public async Task A_halted_rollout_is_rolled_back_and_a_stolen_device_is_blocked_and_unblocked_from_the_console()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.0.0");
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await CreateRolloutAsync("""{"name":"bad","firmware_version":"1.1.0","device_model":"esp32","target_type":"all","failure_threshold":{"percent":5,"minimum_attempts":2}}""");

        _server.Services.GetRequiredService<Paku.Ota.Application.Catalog.ICatalog>().Invalidate();
        var clients = new Dictionary<string, HttpClient>();
        foreach (var id in new[] { "esp32_x", "esp32_y" })
        {
            clients[id] = _server.DeviceClient(_server.IssueDevice(id));
            Assert.That(await ConsoleBrowser.CheckAsync(clients[id], id, "1.0.0"), Is.True);
            await ConsoleBrowser.ReportAsync(clients[id], id, "1.1.0", "downloading", 5);
        }

        // one device took 1.1.0 (the one to send back), the other failed: 50 % of 2 attempts halts it
        await ConsoleBrowser.ReportAsync(clients["esp32_y"], "esp32_y", "1.1.0", "success", 100);
        await ConsoleBrowser.ReportAsync(clients["esp32_x"], "esp32_x", "1.1.0", "failed", 5, "boot loop");

        var page = await ConsoleBrowser.NewPageAsync(_browser, _server);
        await ConsoleBrowser.SignInAsync(page, ApiFactory.WriteKey);
        await page.GotoAsync("/console/rollouts/bad");
        await Expect(page.Locator(".title-row [data-state]")).ToHaveTextAsync("halted", new() { Timeout = 20_000 });
        await page.GetByRole(AriaRole.Link, new() { Name = "Roll back…" }).ClickAsync();
        await Expect(page.Locator(".confirm")).ToContainTextAsync("Creates bad-rollback");
        await ConsoleBrowser.ScreenshotAsync(page, "12-rollback-confirmation");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create the rollback" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/rollouts/bad-rollback$"));
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("Rollback bad-rollback created: esp32 1.0.0 for 1 devices.");

        // block a device: its next check is refused; unblocked, it is answered again
        await page.GotoAsync("/console/devices/esp32_x");
        await page.GetByRole(AriaRole.Link, new() { Name = "Block…" }).ClickAsync();
        await page.GetByLabel("Reason").FillAsync("certificate found on a forum");
        await page.GetByRole(AriaRole.Button, new() { Name = "Block device" }).ClickAsync();
        await Expect(page.Locator(".halt")).ToContainTextAsync("certificate found on a forum");
        await ConsoleBrowser.ScreenshotAsync(page, "13-device-blocked");
        var refused = await clients["esp32_x"].GetAsync("/api/firmware/check?device_id=esp32_x&device_model=esp32&current_version=1.0.0");
        Assert.That((int)refused.StatusCode, Is.EqualTo(403), await refused.Content.ReadAsStringAsync());
        await page.GetByRole(AriaRole.Link, new() { Name = "Unblock…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Unblock device" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("esp32_x is unblocked.");
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from audit_log where action in ('device.block', 'device.unblock', 'rollout.rollback') and actor = 'test-writer'"),
            Is.EqualTo(3));
        foreach (var client in clients.Values)
        {
            client.Dispose();
        }
    }

    [Test]
    public async Task A_read_key_sees_every_page_but_is_offered_no_action_and_a_forced_action_is_refused_with_nothing_changed()
    {
        var writer = await ConsoleBrowser.NewPageAsync(_browser, _server);
        await ConsoleBrowser.SignInAsync(writer, ApiFactory.WriteKey);
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await writer.GotoAsync("/console/rollouts");
        await writer.GetByLabel("Name", new() { Exact = true }).FillAsync("r-read");
        await writer.GetByRole(AriaRole.Button, new() { Name = "Create rollout" }).ClickAsync();
        await Expect(writer.Locator(".title-row [data-state]")).ToHaveTextAsync("active");

        var page = await ConsoleBrowser.NewPageAsync(_browser, _server);
        await ConsoleBrowser.SignInAsync(page, ApiFactory.ReadKey);
        await Expect(page.Locator(".badge.read")).ToHaveTextAsync("read only");
        await page.GotoAsync("/console/rollouts/r-read");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Pause…" })).ToHaveCountAsync(0);
        await Expect(page.Locator(".progress, #progress-title")).ToHaveCountAsync(1);
        await page.GotoAsync("/console/releases");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Upload" })).ToHaveCountAsync(0);
        await Expect(page.Locator("#upload-title + p")).ToContainTextAsync("read scope");
        await ConsoleBrowser.ScreenshotAsync(page, "10-releases-read-key");

        // the confirmation page is reachable by URL; its form is refused for a read key
        await page.GotoAsync("/console/rollouts/r-read/pause");
        await page.GetByRole(AriaRole.Button, new() { Name = "Pause rollout" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed with a read key" })).ToBeVisibleAsync();
        await Expect(page.Locator(".flash.error")).ToContainTextAsync("test-reader");
        await ConsoleBrowser.ScreenshotAsync(page, "11-read-key-refused");
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts where name = 'r-read' and is_active"), Is.EqualTo(1),
            "the rollout is still active");
    }

    [Test]
    public async Task A_phased_rollout_shows_its_gates_and_is_held_and_advanced_from_the_console()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await CreateRolloutAsync("""{"name":"phased","firmware_version":"1.1.0","device_model":"esp32","target_type":"canary","phases":[{"percentage":5,"min_confirmed":20,"max_failure_percent":2,"min_soak_seconds":3600},{"percentage":25,"min_confirmed":100},{"percentage":100}]}""");

        var page = await ConsoleBrowser.NewPageAsync(_browser, _server);
        await ConsoleBrowser.SignInAsync(page, ApiFactory.WriteKey);
        await page.GotoAsync("/console/rollouts/phased");
        await Expect(page.Locator("#phase-title")).ToContainTextAsync("Phase 1 of 3");
        await Expect(page.Locator("[data-gate=min_confirmed]")).ToContainTextAsync("0 confirmed boots of the 20 needed");
        await ConsoleBrowser.ScreenshotAsync(page, "14-phased-rollout");

        await page.GetByRole(AriaRole.Link, new() { Name = "Hold…" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Hold in this phase" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("phased held in phase 1.");
        await page.GetByRole(AriaRole.Link, new() { Name = "Advance to phase 2…" }).ClickAsync();
        await Expect(page.Locator(".confirm")).ToContainTextAsync("25 % of the devices");
        await ConsoleBrowser.ScreenshotAsync(page, "15-advance-confirmation");
        await page.GetByRole(AriaRole.Button, new() { Name = "Advance to phase 2" }).ClickAsync();
        await Expect(page.Locator(".flash.ok")).ToContainTextAsync("phased advanced to phase 2 (25 %).");
        await Expect(page.Locator("#phase-title")).ToContainTextAsync("Phase 2 of 3");
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from audit_log where action in ('rollout.hold', 'rollout.advance') and actor = 'test-writer'"),
            Is.EqualTo(2));
    }

    private async Task CreateRolloutAsync(string json)
    {
        using var api = new HttpClient { BaseAddress = _server.Http };
        api.DefaultRequestHeaders.Add("X-API-Key", ApiFactory.WriteKey);
        var created = await api.PostAsync("/api/admin/rollout/create", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.That((int)created.StatusCode, Is.EqualTo(201), await created.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task Sign_in_works_from_the_keyboard_and_every_form_field_on_every_page_has_a_label()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.InsertDeviceAsync(_db, "esp32_kb", "esp32", "1.0.0", "lab");
        var page = await ConsoleBrowser.NewPageAsync(_browser, _server);
        await page.GotoAsync("/console/sign-in");

        // the key field has focus on arrival (waited for: on a busy machine typing could start before the
        // browser applied autofocus, and the key then went nowhere); typing and Enter signs in
        await Expect(page.Locator("#key")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(ApiFactory.WriteKey);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console$"));

        // the first Tab reaches the skip link, then the navigation
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator(".skip")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Releases" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/releases$"));

        // a rollout created with the keyboard alone: Tab between the fields, Enter sends the form
        await page.GotoAsync("/console/rollouts");
        await page.GetByLabel("Name", new() { Exact = true }).FocusAsync();
        await page.Keyboard.TypeAsync("kb-rollout");
        await page.Keyboard.PressAsync("Enter");
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/console/rollouts/kb-rollout$"));

        foreach (var path in new[] { "/console", "/console/releases", "/console/rollouts", "/console/rollouts/kb-rollout", "/console/rollouts/kb-rollout/pause",
                     "/console/devices", "/console/devices/esp32_kb", "/console/audit", "/console/releases/esp32/1.1.0/withdraw" })
        {
            await page.GotoAsync(path);
            var unlabelled = await page.EvaluateAsync<string[]>("""
                () => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
                      .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
                      .map(e => e.outerHTML.slice(0, 80))
                """);
            Assert.That(unlabelled, Is.Empty, $"fields without a label on {path}");
        }
    }
}

using System.Net;
using System.Text.RegularExpressions;
using Paku.Ota.Api.Tests.Admin;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests.WebConsole;

/// <summary>The console's session and form rules over real HTTP, without a browser: the cookie's flags,
/// server-side sessions that sign-out ends, antiforgery on every form, audited sign-ins, bad input shown
/// as a page with nothing changed, and the console only on the admin listener.</summary>
[NonParallelizable]
public sealed partial class ConsoleHttpTests
{
    private TestDatabase _db = null!;
    private TestSigningKeys _keys = null!;
    private RealServer _server = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _db = await TestDatabase.CreateAsync("paku_test_console_http");
        _keys = new TestSigningKeys();
        _server = await RealServer.StartAsync(_db.ConnectionString, ConsoleBrowser.Settings(_keys));
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        _keys.Dispose();
        await _db.DisposeAsync();
    }

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    private (HttpClient Client, CookieContainer Cookies) Browser()
    {
        var cookies = new CookieContainer();
        var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = _server.Http };
        return (client, cookies);
    }

    private static async Task<string> TokenAsync(HttpClient client, string path)
    {
        var html = await (await client.GetAsync(path)).Content.ReadAsStringAsync();
        var match = TokenField().Match(html);
        Assert.That(match.Success, Is.True, $"{path} has a form with an antiforgery token");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    private static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string key)
    {
        var token = await TokenAsync(client, "/console/sign-in");
        return await client.PostAsync("/console/sign-in", new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = key, ["__csrf"] = token }));
    }

    [Test]
    public async Task Signing_in_sets_an_HttpOnly_SameSite_Strict_cookie_holding_only_a_session_id()
    {
        var (client, _) = Browser();

        var response = await SignInAsync(client, ApiFactory.WriteKey);

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("paku_console=", StringComparison.Ordinal));
        Assert.That(cookie, Does.Contain("httponly").IgnoreCase);
        Assert.That(cookie, Does.Contain("samesite=strict").IgnoreCase);
        Assert.That(cookie, Does.Contain("path=/console").IgnoreCase);
        Assert.That(cookie, Does.Not.Contain("secure").IgnoreCase, "plain HTTP here; Secure is set when the console is served over HTTPS");
        var value = cookie.Split(';')[0]["paku_console=".Length..];
        Assert.That(value.Length, Is.LessThan(600), "a session id, not a serialised ticket");
        Assert.That(value, Does.Not.Contain(ApiFactory.WriteKey));
        Assert.That((await client.GetAsync("/console/rollouts")).StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Signing_out_ends_the_session_on_the_server_so_the_old_cookie_opens_nothing()
    {
        var (client, cookies) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);
        var stolen = cookies.GetCookieHeader(new Uri(_server.Http, "/console/"));
        Assert.That(stolen, Does.Contain("paku_console="));
        var token = await TokenAsync(client, "/console/sign-out");

        var signOut = await client.PostAsync("/console/sign-out", new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = token }));

        Assert.That(signOut.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        using var replay = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = _server.Http };
        var request = new HttpRequestMessage(HttpMethod.Get, "/console/rollouts");
        request.Headers.Add("Cookie", stolen);
        var response = await replay.SendAsync(request);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(response.Headers.Location?.ToString(), Does.Contain("/console/sign-in"));
    }

    [Test]
    public async Task Sign_ins_are_audited_both_refused_and_accepted_and_a_wrong_key_gets_401_and_no_session()
    {
        var (client, _) = Browser();

        var wrong = await SignInAsync(client, "not-a-key");
        var right = await SignInAsync(client, ApiFactory.ReadKey);

        Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        Assert.That(await wrong.Content.ReadAsStringAsync(), Does.Contain("That is not a known API key"));
        Assert.That(wrong.Headers.Contains("Set-Cookie") && wrong.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith("paku_console=", StringComparison.Ordinal)), Is.False);
        Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where action = 'console.sign_in' and actor = 'unauthenticated' and outcome = 'refused (401)'"), Is.EqualTo(1));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where action = 'console.sign_in' and actor = 'test-reader' and outcome = 'succeeded'"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_form_without_its_antiforgery_token_is_refused_with_a_page_saying_so_and_nothing_changes()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);

        var response = await client.PostAsync("/console/rollouts", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = "forged", ["release"] = "esp32/1.1.0", ["target_type"] = "all",
        }));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(await response.Content.ReadAsStringAsync(), Does.Contain("The form has expired"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.EqualTo(0));
    }

    [TestCase("name=bad%20name&release=esp32/1.1.0&target_type=canary&rollout_percentage=10", 400, "name")]
    [TestCase("name=r1&release=esp32/1.1.0&target_type=canary&rollout_percentage=ten", 400, "The percentage must be a whole number")]
    [TestCase("name=r1&release=esp32/1.1.0&target_type=canary&rollout_percentage=150", 400, "rollout_percentage")]
    [TestCase("name=r1&release=esp32/9.9.9&target_type=canary", 404, "There is no release 9.9.9")]
    [TestCase("name=r1&release=esp32/1.1.0&target_type=group&groups=", 400, "group")]
    public async Task Bad_input_in_a_console_form_is_answered_with_a_page_that_says_what_was_wrong_and_nothing_is_stored(string form, int status, string says)
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);
        var token = await TokenAsync(client, "/console/rollouts");

        var response = await client.PostAsync("/console/rollouts",
            new StringContent($"{form}&__csrf={Uri.EscapeDataString(token)}", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));

        var html = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), html);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(WebUtility.HtmlDecode(html), Does.Contain("The rollout was not created"));
        Assert.That(WebUtility.HtmlDecode(html), Does.Contain(says));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.EqualTo(0));
    }

    [Test]
    public async Task A_form_holding_U0000_is_refused_as_unreadable_not_as_expired_and_nothing_is_stored()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);
        var token = await TokenAsync(client, "/console/rollouts");

        var response = await client.PostAsync("/console/rollouts", new StringContent(
            $"name=r%00x&release=esp32/1.1.0&target_type=all&__csrf={Uri.EscapeDataString(token)}", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));

        var html = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(html, Does.Contain("The form could not be read").And.Contain("invalid characters").And.Contain("Nothing was changed"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts"), Is.EqualTo(0));
    }

    [Test]
    public async Task An_upload_whose_signature_does_not_verify_is_shown_the_reason_and_no_release_is_stored()
    {
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);
        var token = await TokenAsync(client, "/console/releases");
        var image = FirmwareTestKit.EspImage(4096, seed: 3);
        using var form = FirmwareTestKit.Form(image, ConsoleBrowser.Sign(_keys, FirmwareTestKit.EspImage(4096, seed: 4)));
        form.Add(new StringContent("esp32"), "device_model");
        form.Add(new StringContent("1.2.0"), "version");
        form.Add(new StringContent(token), "__csrf");

        var response = await client.PostAsync("/console/releases", form);

        var html = WebUtility.HtmlDecode(await response.Content.ReadAsStringAsync());
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.UnprocessableEntity));
        Assert.That(html, Does.Contain("The release was not uploaded").And.Contain("does not verify with any configured key"));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from firmware_releases"), Is.EqualTo(0));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where action = 'firmware.upload' and outcome = 'refused (422)' and actor = 'test-writer'"), Is.EqualTo(1));
    }

    [Test]
    public async Task A_console_action_is_audited_under_the_signed_in_keys_name()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);
        var token = await TokenAsync(client, "/console/rollouts");

        var response = await client.PostAsync("/console/rollouts", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["name"] = "r-audit", ["release"] = "esp32/1.1.0", ["target_type"] = "all", ["rollout_percentage"] = "100", ["__csrf"] = token,
        }));

        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where action = 'rollout.create' and actor = 'test-writer' and target = 'r-audit' and outcome = 'succeeded' and details->>'via' = 'console'"),
            Is.EqualTo(1));
    }

    [Test]
    public async Task A_rollouts_page_shows_its_maintenance_windows_and_pace()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        using var admin = new HttpClient { BaseAddress = _server.Http };
        admin.DefaultRequestHeaders.Add(Paku.Ota.Api.Security.AdminPolicies.HeaderName, ApiFactory.WriteKey);
        var created = await admin.SendJsonAsync(HttpMethod.Post, "/api/admin/rollout/create", """
            {"name": "nightly", "firmware_version": "1.1.0", "device_model": "esp32", "target_type": "all",
             "windows": [{"days": ["sat"], "start": "22:00", "end": "04:00", "time_zone": "Europe/Berlin"}], "pace": {"per_minute": 25}}
            """);
        Assert.That(created.StatusCode, Is.EqualTo(HttpStatusCode.Created), await created.Content.ReadAsStringAsync());
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.ReadKey);

        var html = WebUtility.HtmlDecode(await client.GetStringAsync("/console/rollouts/nightly"));

        Assert.That(html, Does.Contain("sat 22:00–04:00 Europe/Berlin (ends the next day)"));
        Assert.That(html, Does.Contain("at most 25 new attempts per minute"));
        Assert.That(html, Does.Contain("no in-flight limit"));
    }

    [Test]
    public async Task A_phased_rollouts_page_shows_its_gates_and_advance_and_hold_go_through_a_confirmation_and_are_audited()
    {
        await AdminFixtures.InsertReleaseAsync(_db, "esp32", "1.1.0");
        await AdminFixtures.ExecuteAsync(_db, """
            insert into rollouts (name, release_id, firmware_version, device_model, target_type, rollout_percentage,
                                  phase_plan, phase_index, phase_started_at)
            select 'r-phased', id, version, device_model, 'canary', 10,
                   '[{"percentage": 10, "min_confirmed": 3, "min_soak_seconds": 60}, {"percentage": 50, "max_failure_percent": 2}, {"percentage": 100}]',
                   0, now()
            from firmware_releases where version = '1.1.0'
            """);
        var (client, _) = Browser();
        await SignInAsync(client, ApiFactory.WriteKey);

        var page = WebUtility.HtmlDecode(await client.GetStringAsync("/console/rollouts/r-phased"));
        Assert.That(page, Does.Contain("Phase 1 of 3").And.Contain("0 confirmed boots of the 3 needed").And.Contain("not met"));
        Assert.That(page, Does.Contain("/console/rollouts/r-phased/advance").And.Contain("/console/rollouts/r-phased/hold"));
        Assert.That(page, Does.Not.Contain("Change the percentage"), "the plan owns the percentage");

        var hold = await TokenAsync(client, "/console/rollouts/r-phased/hold");
        var held = await client.PostAsync("/console/rollouts/r-phased/hold", new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = hold }));
        Assert.That(held.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));

        var confirm = WebUtility.HtmlDecode(await client.GetStringAsync("/console/rollouts/r-phased/advance"));
        Assert.That(confirm, Does.Contain("Advance r-phased to phase 2?").And.Contain("50 % of the devices"));
        var advance = await TokenAsync(client, "/console/rollouts/r-phased/advance");
        var advanced = await client.PostAsync("/console/rollouts/r-phased/advance", new FormUrlEncodedContent(new Dictionary<string, string> { ["__csrf"] = advance }));

        Assert.That(advanced.StatusCode, Is.EqualTo(HttpStatusCode.Redirect));
        Assert.That(await AdminFixtures.CountAsync(_db, "select count(*) from rollouts where name = 'r-phased' and phase_index = 1 and rollout_percentage = 50 and phase_held_by = 'held by test-writer'"),
            Is.EqualTo(1));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where actor = 'test-writer' and target = 'r-phased' and outcome = 'succeeded' and details->>'via' = 'console' and action in ('rollout.hold', 'rollout.advance')"),
            Is.EqualTo(2));
        Assert.That(await AdminFixtures.CountAsync(_db,
            "select count(*) from audit_log where action = 'rollout.phase_advance' and actor = 'test-writer' and details->>'trigger' = 'manual'"), Is.EqualTo(1));
    }

    [Test]
    public async Task The_console_is_not_served_on_the_device_listener()
    {
        using var certificate = _server.IssueDevice("esp32_001");
        using var device = _server.DeviceClient(certificate);

        foreach (var path in new[] { "/console", "/console/sign-in", "/console/assets/console.css" })
        {
            Assert.That((await device.GetAsync(path)).StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
        }
    }

    [Test]
    public async Task Console_pages_forbid_framing_and_foreign_scripts_and_are_not_cached()
    {
        var (client, _) = Browser();

        var response = await client.GetAsync("/console/sign-in");

        Assert.That(response.Headers.GetValues("Content-Security-Policy").Single(), Does.Contain("script-src 'self'").And.Contain("frame-ancestors 'none'"));
        Assert.That(response.Headers.GetValues("X-Frame-Options").Single(), Is.EqualTo("DENY"));
        Assert.That(response.Headers.CacheControl?.NoStore, Is.True);
    }

    [GeneratedRegex("name=\"__csrf\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();
}

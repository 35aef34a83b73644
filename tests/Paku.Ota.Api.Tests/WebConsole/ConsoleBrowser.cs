using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.Playwright;
using Paku.Ota.Api.Security;
using Paku.Ota.Api.Tests.Admin;

namespace Paku.Ota.Api.Tests.WebConsole;

/// <summary>Debian's chromium driven by Playwright (its own browser download is unreachable here, so the
/// browser is launched from <c>PAKU_CHROMIUM</c> or /usr/bin/chromium, which test.sh installs), a real
/// service on real listeners, and screenshots under .local/console-screenshots.</summary>
internal static class ConsoleBrowser
{
    public const string Chromium = "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        var path = Environment.GetEnvironmentVariable("PAKU_CHROMIUM") is { Length: > 0 } configured ? configured : Chromium;
        if (!File.Exists(path))
        {
            Assert.Fail($"No chromium at {path}: run scripts/install-test-deps.sh (test.sh does) or set PAKU_CHROMIUM.");
        }

        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = path,
            Headless = true,
            // root in a container has no user namespace for chromium's sandbox
            Args = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
            Timeout = 60_000,
        });
        return (playwright, browser);
    }

    public static async Task<IPage> NewPageAsync(IBrowser browser, RealServer server)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = server.Http.ToString().TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = 1360, Height = 900 },
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    public static async Task SignInAsync(IPage page, string key, bool navigate = true)
    {
        if (navigate)
        {
            await page.GotoAsync("/console");
        }

        await page.GetByLabel("API key").FillAsync(key);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.WaitForURLAsync(url => !url.Contains("/sign-in", StringComparison.Ordinal));
    }

    /// <summary>Writes a full-page screenshot to .local/console-screenshots/<paramref name="name"/>.png.</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(ScreenshotDirectory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.AddTestAttachment(path);
    }

    public static string ScreenshotDirectory
    {
        get
        {
            var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Paku.Ota.sln")))
            {
                dir = dir.Parent;
            }

            var root = Path.Combine(dir?.FullName ?? Path.GetTempPath(), ".local", "console-screenshots");
            Directory.CreateDirectory(root);
            return root;
        }
    }

    public static Dictionary<string, string?> Settings(TestSigningKeys keys)
    {
        var settings = keys.Settings();
        settings["Ota:ApiKeys:1:Name"] = "test-reader";
        settings["Ota:ApiKeys:1:Hash"] = ApiKeys.Hash(ApiFactory.ReadKey);
        settings["Ota:ApiKeys:1:Scope"] = "read";
        settings["Ota:RateLimit:DeviceRequestsPerWindow"] = "1000000";
        settings["Ota:Console:PollSeconds"] = "0.5";
        return settings;
    }

    public static byte[] Sign(TestSigningKeys keys, byte[] image) =>
        keys.Rsa.SignData(image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    /// <summary>A simulated device: a check over mTLS with its own certificate, as the device API expects.</summary>
    public static async Task<bool> CheckAsync(HttpClient device, string id, string version)
    {
        var response = await device.GetAsync($"/api/firmware/check?device_id={id}&device_model=esp32&current_version={version}");
        var body = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), body.ToString());
        return body.GetProperty("update_available").GetBoolean();
    }

    public static async Task ReportAsync(HttpClient device, string id, string version, string status, int progress, string? error = null)
    {
        var response = await device.PostAsJsonAsync($"/api/device/{id}/update-status",
            new { device_id = id, firmware_version = version, status, progress_percent = progress, error_message = error });
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }
}

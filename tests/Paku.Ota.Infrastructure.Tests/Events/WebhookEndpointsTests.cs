using Paku.Ota.Infrastructure.Events;

namespace Paku.Ota.Infrastructure.Tests.Events;

/// <summary>A webhook setting that cannot be used stops the start, naming the setting and the fix.</summary>
public sealed class WebhookEndpointsTests
{
    private const string GoodSecret = "0123456789abcdef0123";

    [TestCase(null, "http://h/x", GoodSecret, "Ota:Webhooks:Endpoints:0:Name is required")]
    [TestCase("ops", "ftp://h/x", GoodSecret, "Ota:Webhooks:Endpoints:0:Url must be an absolute http or https URL")]
    [TestCase("ops", "/relative", GoodSecret, "Ota:Webhooks:Endpoints:0:Url")]
    [TestCase("ops", "https://h/x", "short", "at least 16 bytes")]
    [TestCase("ops", "https://h/x", null, "at least 16 bytes")]
    public void A_bad_endpoint_is_refused_naming_its_setting(string? name, string url, string? secret, string message)
    {
        var options = new WebhookOptions { Endpoints = [new WebhookEndpointOptions { Name = name, Url = url, Secret = secret }] };

        Assert.That(() => WebhookEndpoints.Load(options), Throws.InvalidOperationException.With.Message.Contains(message));
    }

    [Test]
    public void Two_endpoints_with_one_name_a_lease_shorter_than_the_timeout_and_an_unreadable_secret_file_are_refused()
    {
        var twice = new WebhookEndpointOptions { Name = "ops", Url = "https://h/x", Secret = GoodSecret };
        Assert.That(() => WebhookEndpoints.Load(new WebhookOptions { Endpoints = [twice, twice] }),
            Throws.InvalidOperationException.With.Message.Contains("Ota:Webhooks:Endpoints:1:Name 'ops' is used by another endpoint"));
        Assert.That(() => WebhookEndpoints.Load(new WebhookOptions { TimeoutSeconds = 30, LeaseSeconds = 30 }),
            Throws.InvalidOperationException.With.Message.Contains("Ota:Webhooks:LeaseSeconds"));
        var missing = new WebhookEndpointOptions { Name = "ops", Url = "https://h/x", SecretFile = "/nonexistent/webhook.secret" };
        Assert.That(() => WebhookEndpoints.Load(new WebhookOptions { Endpoints = [missing] }),
            Throws.InvalidOperationException.With.Message.Contains("SecretFile '/nonexistent/webhook.secret' cannot be read"));
    }

    [Test]
    public void A_secret_is_read_from_its_file_without_the_trailing_newline()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, GoodSecret + "\n");
            var endpoints = WebhookEndpoints.Load(new WebhookOptions
            {
                Endpoints = [new WebhookEndpointOptions { Name = "ops", Url = "https://h/x", SecretFile = file }],
            });

            Assert.That(System.Text.Encoding.UTF8.GetString(endpoints.All[0].Secret), Is.EqualTo(GoodSecret));
            Assert.That(endpoints.Names, Is.EqualTo(new[] { "ops" }));
        }
        finally
        {
            File.Delete(file);
        }
    }
}

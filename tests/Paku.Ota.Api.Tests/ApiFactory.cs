using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Paku.Ota.Api.Security;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

/// <summary>The real service on TestServer, against a real migrated PostgreSQL database, with one
/// admin key of each scope. TestServer has no TLS, so device calls here go in as plain HTTP (allowed
/// by this profile); the mTLS rules are tested on a real Kestrel listener.</summary>
public sealed class ApiFactory(string connectionString, IReadOnlyDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    public const string WriteKey = "test-write-key-0123456789abcdef";
    public const string ReadKey = "test-read-key-0123456789abcdef";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Ota", connectionString);
        builder.UseSetting("Ota:Devices:AllowPlainHttp", "true");
        builder.UseSetting("Ota:ApiKeys:0:Name", "test-writer");
        builder.UseSetting("Ota:ApiKeys:0:Hash", ApiKeys.Hash(WriteKey));
        builder.UseSetting("Ota:ApiKeys:0:Scope", "write");
        builder.UseSetting("Ota:ApiKeys:1:Name", "test-reader");
        builder.UseSetting("Ota:ApiKeys:1:Hash", ApiKeys.Hash(ReadKey));
        builder.UseSetting("Ota:ApiKeys:1:Scope", "read");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }

    public static async Task<(TestDatabase Db, ApiFactory Factory)> StartAsync(string database, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var db = await TestDatabase.CreateAsync(database);
        return (db, new ApiFactory(db.ConnectionString, settings));
    }

    public HttpClient CreateAdminClient(bool write = true)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add(AdminPolicies.HeaderName, write ? WriteKey : ReadKey);
        return client;
    }

    /// <summary>Makes the service see rows a test wrote straight into the database at once.</summary>
    public void RefreshCatalog() => Services.GetRequiredService<ICatalog>().Invalidate();
}

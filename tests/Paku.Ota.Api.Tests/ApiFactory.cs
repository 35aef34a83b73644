using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Paku.Ota.Testing;

namespace Paku.Ota.Api.Tests;

/// <summary>The real service on TestServer, against a real migrated PostgreSQL database.</summary>
public sealed class ApiFactory(string connectionString, IReadOnlyDictionary<string, string?>? settings = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Ota", connectionString);
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
}

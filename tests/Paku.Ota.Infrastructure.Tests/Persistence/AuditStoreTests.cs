using Dapper;
using Paku.Ota.Infrastructure.Persistence;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The audit records refusals of hostile input, so recording must never fail on it.</summary>
[NonParallelizable]
public sealed class AuditStoreTests
{
    private static readonly string Lone = ((char)0xD800).ToString();

    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    [SetUp]
    public Task Reset() => _db.ResetAsync();

    [Test]
    public async Task An_entry_whose_text_holds_NUL_and_lone_surrogates_is_recorded_with_them_shown_as_escapes()
    {
        var store = new AuditStore(_db.DataSource);

        await store.RecordAsync($"key{Lone}", "rollout.create", "r\0x", $"refused{Lone} (400)",
            $$"""{"detail":"name contains \u0000 and {{Lone}}","path":"/x\ud800"}""", CancellationToken.None);

        var entries = await store.ListAsync(10, null, null, CancellationToken.None);
        Assert.That(entries, Has.Count.EqualTo(1));
        var entry = entries[0];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(entry.Actor, Is.EqualTo("key\\uD800"));
            Assert.That(entry.Target, Is.EqualTo("r\\u0000x"));
            Assert.That(entry.Outcome, Is.EqualTo("refused\\uD800 (400)"));
            Assert.That(entry.DetailsJson, Does.Contain("details_text").And.Contain("name contains"));
        }
    }

    [Test]
    public async Task Details_jsonb_can_hold_are_kept_as_they_are()
    {
        var store = new AuditStore(_db.DataSource);
        const string details = """{"detail": "caf\u00e9 \ud83d\ude80 and a backslash \\u0000 as text", "status": 400}""";

        await store.RecordAsync("key", "rollout.create", "r1", "refused (400)", details, CancellationToken.None);

        await using var connection = await _db.DataSource.OpenConnectionAsync();
        var stored = await connection.ExecuteScalarAsync<string>("select details->>'detail' from audit_log");
        Assert.That(stored, Is.EqualTo("caf\u00e9 \U0001F680 and a backslash \\u0000 as text"));
    }
}

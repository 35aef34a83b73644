using Dapper;
using Paku.Ota.Testing;

namespace Paku.Ota.Infrastructure.Tests.Persistence;

/// <summary>The database's <c>ota_semver_key</c> (what dashboards sort by) against the SemVer table the
/// Domain and the C client read too, so all three agree.</summary>
[NonParallelizable]
public sealed class SemverKeyTests
{
    private TestDatabase _db = null!;

    [OneTimeSetUp]
    public async Task CreateDatabase() => _db = await TestDatabase.CreateAsync("paku_test_infrastructure");

    [OneTimeTearDown]
    public async Task DisposeDatabase() => await _db.DisposeAsync();

    public static IEnumerable<TestCaseData> Cases()
    {
        var path = Path.Combine(TestContext.CurrentContext.TestDirectory, "testdata", "semver-cases.txt");
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith("! ", StringComparison.Ordinal))
            {
                yield return new TestCaseData(line[2..], "!", null).SetName($"invalid '{line[2..]}'");
                continue;
            }

            var parts = line.Split(' ');
            yield return new TestCaseData(parts[0], parts[1], parts[2]).SetName(line);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public async Task Sql_precedence_matches_the_shared_table(string left, string op, string? right)
    {
        await using var c = await _db.DataSource.OpenConnectionAsync();
        if (op == "!")
        {
            var key = await c.ExecuteScalarAsync<string[]?>("select ota_semver_key(@v)", new { v = left });
            Assert.That(key, Is.Null);
            return;
        }

        var cmp = await c.ExecuteScalarAsync<int?>(
            "select case when ota_semver_key(@a) < ota_semver_key(@b) then -1 when ota_semver_key(@a) = ota_semver_key(@b) then 0 else 1 end",
            new { a = left, b = right });
        Assert.That(cmp, Is.EqualTo(op == "<" ? -1 : 0));
    }
}

using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Tests.Versions;

/// <summary>Every line of testdata/semver-cases.txt, the table the C client's tests read too.</summary>
public sealed class SemVerTableTests
{
    private static readonly string TablePath = Path.Combine(AppContext.BaseDirectory, "testdata", "semver-cases.txt");

    public sealed record Case(int Line, string Kind, string Left, string? Right);

    private static IEnumerable<Case> Cases()
    {
        var lines = File.ReadAllLines(TablePath);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith("! ", StringComparison.Ordinal))
            {
                yield return new Case(i + 1, "!", line[2..], null);
                continue;
            }

            var parts = line.Split(' ');
            if (parts.Length != 3 || parts[1] is not ("<" or "="))
            {
                throw new FormatException($"{TablePath}:{i + 1}: cannot read '{line}'");
            }

            yield return new Case(i + 1, parts[1], parts[0], parts[2]);
        }
    }

    private static IEnumerable<TestCaseData> Comparisons() =>
        Cases().Where(c => c.Kind != "!").Select(c =>
            new TestCaseData(c.Left, c.Kind, c.Right).SetName($"Table line {c.Line}: {c.Left} {c.Kind} {c.Right}"));

    private static IEnumerable<TestCaseData> Invalid() =>
        Cases().Where(c => c.Kind == "!").Select(c =>
            new TestCaseData(c.Left).SetName($"Table line {c.Line}: '{c.Left}' is refused"));

    [TestCaseSource(nameof(Comparisons))]
    public void Versions_in_the_shared_table_compare_as_stated(string left, string relation, string right)
    {
        var a = FirmwareVersion.Parse(left);
        var b = FirmwareVersion.Parse(right);

        using (Assert.EnterMultipleScope())
        {
            if (relation == "<")
            {
                Assert.That(a.CompareTo(b), Is.LessThan(0));
                Assert.That(b.CompareTo(a), Is.GreaterThan(0));
                Assert.That(a < b && b > a && a <= b && b >= a, Is.True);
                Assert.That(a == b || a.Equals(b), Is.False);
                Assert.That(a != b, Is.True);
            }
            else
            {
                Assert.That(a.CompareTo(b), Is.Zero);
                Assert.That(b.CompareTo(a), Is.Zero);
                Assert.That(a == b && a.Equals(b) && b.Equals(a), Is.True);
                Assert.That(a.GetHashCode(), Is.EqualTo(b.GetHashCode()));
                Assert.That(a < b || a > b, Is.False);
            }
        }
    }

    [TestCaseSource(nameof(Invalid))]
    public void Invalid_versions_in_the_shared_table_are_refused(string candidate)
    {
        var parsed = FirmwareVersion.TryParse(candidate, out var version, out var error);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(parsed, Is.False);
            Assert.That(version, Is.Null);
            Assert.That(error, Does.Contain("version"));
            Assert.That(() => FirmwareVersion.Parse(candidate), Throws.TypeOf<FormatException>().With.Message.EqualTo(error));
        }
    }

    [Test]
    public void The_shared_table_is_read_whole()
    {
        var cases = Cases().ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(cases.Count(c => c.Kind == "<"), Is.GreaterThanOrEqualTo(20));
            Assert.That(cases.Count(c => c.Kind == "="), Is.GreaterThanOrEqualTo(5));
            Assert.That(cases.Count(c => c.Kind == "!"), Is.GreaterThanOrEqualTo(20));
            Assert.That(cases.Where(c => c.Kind == "!").Select(c => c.Left), Does.Contain("").And.Contain("1.2.3 ").And.Contain(" 1.2.3"));
        }
    }

    [Test]
    public void Every_strictly_ordered_pair_in_the_table_sorts_consistently()
    {
        // Sorting all the table's versions must respect every '<' line at once (transitivity).
        var comparisons = Cases().Where(c => c.Kind == "<").ToList();
        var sorted = comparisons.SelectMany(c => new[] { c.Left, c.Right! })
            .Select(FirmwareVersion.Parse)
            .Order()
            .ToList();

        foreach (var c in comparisons)
        {
            var left = FirmwareVersion.Parse(c.Left);
            var right = FirmwareVersion.Parse(c.Right!);
            Assert.That(sorted.FindLastIndex(v => v == left), Is.LessThan(sorted.FindIndex(v => v == right)), $"line {c.Line}");
        }
    }
}

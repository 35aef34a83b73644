using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Domain.Tests.Versions;

public sealed class FirmwareVersionTests
{
    [Test]
    public void Parsing_splits_core_pre_release_and_build()
    {
        var version = FirmwareVersion.Parse("1.22.333-rc.1.x-y+build.5-a");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(version.Major, Is.EqualTo(1UL));
            Assert.That(version.Minor, Is.EqualTo(22UL));
            Assert.That(version.Patch, Is.EqualTo(333UL));
            Assert.That(version.PreRelease, Is.EqualTo(new[] { "rc", "1", "x-y" }));
            Assert.That(version.Build, Is.EqualTo("build.5-a"));
            Assert.That(version.IsPreRelease, Is.True);
        }
    }

    [Test]
    public void A_release_has_no_pre_release_and_no_build()
    {
        var version = FirmwareVersion.Parse("0.0.0");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(version.PreRelease, Is.Empty);
            Assert.That(version.Build, Is.Null);
            Assert.That(version.IsPreRelease, Is.False);
        }
    }

    [TestCase("v1.2.0", "1.2.0")]
    [TestCase("V1.2.0-rc.1+ci.7", "1.2.0-rc.1+ci.7")]
    [TestCase("1.2.0+build.5", "1.2.0+build.5")]
    [TestCase("18446744073709551615.0.0", "18446744073709551615.0.0")]
    public void Text_is_normalised_without_the_v_and_keeps_build_metadata(string text, string normalised) =>
        Assert.That(FirmwareVersion.Parse(text).ToString(), Is.EqualTo(normalised));

    [TestCase("1.02.3", "'1.02.3' is not a valid version: numeric part '02' has a leading zero (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("1.2", "'1.2' is not a valid version: it has 2 numeric parts where 3 are needed (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("1.2.3.4", "'1.2.3.4' is not a valid version: it has 4 numeric parts where 3 are needed (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("1.2.c", "'1.2.c' is not a valid version: the patch part 'c' is not a number (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("1..3", "'1..3' is not a valid version: the minor part is empty (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("vv1.2.3", "'vv1.2.3' is not a valid version: only a single leading 'v' is allowed (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase(" 1.2.3", "' 1.2.3' is not a valid version: it has leading or trailing whitespace (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    [TestCase("-1.2.3", "'-1.2.3' is not a valid version: it does not start with a number (expected MAJOR.MINOR.PATCH, e.g. 1.2.0)")]
    public void Errors_say_what_is_wrong_and_what_is_expected(string text, string message)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirmwareVersion.TryParse(text, out _, out var error), Is.False);
            Assert.That(error, Is.EqualTo(message));
        }
    }

    [TestCase("18446744073709551616.0.0", "major part '18446744073709551616' is too large")]
    [TestCase("1.2.3-01", "pre-release identifier '01' is numeric and has a leading zero")]
    [TestCase("1.2.3-alpha_beta", "identifier 'alpha_beta' contains '_'")]
    [TestCase("1.2.3-alpha..1", "pre-release has an empty identifier")]
    [TestCase("1.2.3+build..1", "build metadata has an empty identifier")]
    [TestCase("1.2.3-", "the pre-release after '-' is empty")]
    [TestCase("1.2.3+", "the build metadata after '+' is empty")]
    [TestCase("1.2.3+a+b", "identifier 'a+b' contains '+'")]
    [TestCase("1.2.3-a\tb", "contains U+0009")]
    [TestCase("1.2.٣", "the patch part '٣' is not a number")]
    [TestCase("v", "nothing follows the 'v'")]
    public void Errors_name_the_offending_part(string text, string problem)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirmwareVersion.TryParse(text, out var version, out var error), Is.False);
            Assert.That(version, Is.Null);
            Assert.That(error, Does.StartWith($"'{text}' is not a valid version: ").And.Contain(problem));
        }
    }

    [TestCase(null)]
    [TestCase("")]
    public void A_missing_version_is_reported_as_required(string? text)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirmwareVersion.TryParse(text, out _, out var error), Is.False);
            Assert.That(error, Does.StartWith("a version is required"));
        }
    }

    [Test]
    public void Versions_up_to_128_characters_are_accepted_and_longer_ones_refused()
    {
        var longest = "1.0.0-" + new string('a', FirmwareVersion.MaxLength - 6);
        var tooLong = longest + "a";

        using (Assert.EnterMultipleScope())
        {
            Assert.That(FirmwareVersion.TryParse(longest, out _, out _), Is.True);
            Assert.That(FirmwareVersion.TryParse("v" + longest[..^1], out _, out _), Is.True);
            Assert.That(FirmwareVersion.TryParse(tooLong, out _, out var error), Is.False);
            Assert.That(error, Does.Contain("129 characters long, at most 128"));
            // a long input is not echoed back whole
            Assert.That(error, Does.Not.Contain(tooLong));
        }
    }

    [Test]
    public void Parse_throws_a_format_exception_carrying_the_error_message()
    {
        FirmwareVersion.TryParse("1.2", out _, out var error);

        Assert.That(() => FirmwareVersion.Parse("1.2"), Throws.TypeOf<FormatException>().With.Message.EqualTo(error));
    }

    [Test]
    public void Numeric_pre_release_identifiers_beyond_64_bits_still_compare_as_numbers()
    {
        var smaller = FirmwareVersion.Parse("1.0.0-99999999999999999999");
        var larger = FirmwareVersion.Parse("1.0.0-100000000000000000000");

        Assert.That(smaller, Is.LessThan(larger));
    }

    [Test]
    public void Versions_differing_only_in_build_are_one_entry_in_a_set()
    {
        var set = new HashSet<FirmwareVersion> { FirmwareVersion.Parse("1.0.0+a"), FirmwareVersion.Parse("v1.0.0+b") };

        Assert.That(set, Has.Count.EqualTo(1));
    }

    [Test]
    public void Null_is_below_every_version_and_equal_only_to_null()
    {
        var version = FirmwareVersion.Parse("0.0.0-0");
        FirmwareVersion? none = null;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(version.CompareTo(null), Is.GreaterThan(0));
            Assert.That(version > none, Is.True);
            Assert.That(none < version, Is.True);
            Assert.That(none == null, Is.True);
            Assert.That(version == none, Is.False);
            Assert.That(version.Equals(null), Is.False);
        }
    }

    [Test]
    public void Sorting_orders_by_precedence_not_by_text()
    {
        var versions = new[] { "1.10.0", "1.2.0", "1.2.0-rc.1", "1.9.0", "1.2.0-beta.11", "1.2.0-beta.2" }
            .Select(FirmwareVersion.Parse)
            .Order()
            .Select(v => v.ToString());

        Assert.That(versions, Is.EqualTo(new[] { "1.2.0-beta.2", "1.2.0-beta.11", "1.2.0-rc.1", "1.2.0", "1.9.0", "1.10.0" }));
    }
}

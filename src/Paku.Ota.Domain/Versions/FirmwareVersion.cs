using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Paku.Ota.Domain.Versions;

/// <summary>
/// A SemVer 2.0.0 version. Equality and ordering follow SemVer precedence, so build
/// metadata never makes two versions different: 1.0.0+a and 1.0.0+b are the same release.
/// </summary>
public sealed class FirmwareVersion : IComparable<FirmwareVersion>, IEquatable<FirmwareVersion>
{
    public const int MaxLength = 128;

    private const string CoreHint = "(expected MAJOR.MINOR.PATCH, e.g. 1.2.0)";
    private const string SuffixHint =
        "(pre-release and build are dot-separated identifiers of A-Z a-z 0-9 -, e.g. 1.2.0-rc.1+build.5)";

    private static readonly SearchValues<char> IdentifierCharacters =
        SearchValues.Create("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-");

    private readonly string[] _preRelease;
    private readonly string _text;

    private FirmwareVersion(ulong major, ulong minor, ulong patch, string[] preRelease, string? build, string text)
    {
        Major = major;
        Minor = minor;
        Patch = patch;
        _preRelease = preRelease;
        Build = build;
        _text = text;
    }

    public ulong Major { get; }
    public ulong Minor { get; }
    public ulong Patch { get; }
    public IReadOnlyList<string> PreRelease => _preRelease;
    public string? Build { get; }
    public bool IsPreRelease => _preRelease.Length > 0;

    public static FirmwareVersion Parse(string text) =>
        TryParse(text, out var version, out var error) ? version : throw new FormatException(error);

    public static bool TryParse(
        string? text,
        [NotNullWhen(true)] out FirmwareVersion? version,
        [NotNullWhen(false)] out string? error)
    {
        version = null;
        error = Problem(text);
        if (error is not null)
        {
            return false;
        }

        // Problem() has vetted the shape, so the parts below exist and are well formed.
        var normalised = text![0] is 'v' or 'V' ? text[1..] : text;
        var plus = normalised.IndexOf('+');
        var build = plus < 0 ? null : normalised[(plus + 1)..];
        var withoutBuild = plus < 0 ? normalised : normalised[..plus];
        var dash = withoutBuild.IndexOf('-');
        var core = dash < 0 ? withoutBuild : withoutBuild[..dash];
        var preRelease = dash < 0 ? [] : withoutBuild[(dash + 1)..].Split('.');
        var numbers = core.Split('.');
        version = new FirmwareVersion(
            ulong.Parse(numbers[0], CultureInfo.InvariantCulture),
            ulong.Parse(numbers[1], CultureInfo.InvariantCulture),
            ulong.Parse(numbers[2], CultureInfo.InvariantCulture),
            preRelease,
            build,
            normalised);
        return true;
    }

    /// <summary>Null when the text is a valid version, otherwise a sentence saying what is wrong.</summary>
    private static string? Problem(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return $"a version is required {CoreHint}";
        }

        if (text.Length > MaxLength)
        {
            return Invalid(text, $"it is {text.Length} characters long, at most {MaxLength} are allowed", CoreHint);
        }

        if (char.IsWhiteSpace(text[0]) || char.IsWhiteSpace(text[^1]))
        {
            return Invalid(text, "it has leading or trailing whitespace", CoreHint);
        }

        var rest = text.AsSpan();
        if (rest[0] is 'v' or 'V')
        {
            rest = rest[1..];
            if (rest.IsEmpty)
            {
                return Invalid(text, "nothing follows the 'v'", CoreHint);
            }

            if (rest[0] is 'v' or 'V')
            {
                return Invalid(text, "only a single leading 'v' is allowed", CoreHint);
            }
        }

        var plus = rest.IndexOf('+');
        var withoutBuild = plus < 0 ? rest : rest[..plus];
        var dash = withoutBuild.IndexOf('-');
        var core = dash < 0 ? withoutBuild : withoutBuild[..dash];

        var coreProblem = CoreProblem(core);
        if (coreProblem is not null)
        {
            return Invalid(text, coreProblem, CoreHint);
        }

        if (dash >= 0)
        {
            var preRelease = IdentifiersProblem(withoutBuild[(dash + 1)..], "pre-release", numericMustNotLeadWithZero: true);
            if (preRelease is not null)
            {
                return Invalid(text, preRelease, SuffixHint);
            }
        }

        if (plus >= 0)
        {
            var build = IdentifiersProblem(rest[(plus + 1)..], "build metadata", numericMustNotLeadWithZero: false);
            if (build is not null)
            {
                return Invalid(text, build, SuffixHint);
            }
        }

        return null;
    }

    private static string? CoreProblem(ReadOnlySpan<char> core)
    {
        if (core.IsEmpty)
        {
            return "it does not start with a number";
        }

        var count = core.Count('.') + 1;
        if (count != 3)
        {
            return $"it has {count} numeric part{(count == 1 ? "" : "s")} where 3 are needed";
        }

        ReadOnlySpan<string> names = ["major", "minor", "patch"];
        var index = 0;
        foreach (var range in core.Split('.'))
        {
            var part = core[range];
            var name = names[index++];
            if (part.IsEmpty)
            {
                return $"the {name} part is empty";
            }

            if (part.ContainsAnyExceptInRange('0', '9'))
            {
                return $"the {name} part '{part}' is not a number";
            }

            if (part.Length > 1 && part[0] == '0')
            {
                return $"numeric part '{part}' has a leading zero";
            }

            if (!ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                return $"the {name} part '{part}' is too large (at most {ulong.MaxValue})";
            }
        }

        return null;
    }

    private static string? IdentifiersProblem(ReadOnlySpan<char> identifiers, string what, bool numericMustNotLeadWithZero)
    {
        if (identifiers.IsEmpty)
        {
            return $"the {what} after '{(what == "pre-release" ? '-' : '+')}' is empty";
        }

        foreach (var range in identifiers.Split('.'))
        {
            var identifier = identifiers[range];
            if (identifier.IsEmpty)
            {
                return $"the {what} has an empty identifier (two dots in a row, or a dot at an end)";
            }

            var bad = identifier.IndexOfAnyExcept(IdentifierCharacters);
            if (bad >= 0)
            {
                return $"the {what} identifier '{identifier}' contains {Describe(identifier[bad])}, only A-Z a-z 0-9 - are allowed";
            }

            if (numericMustNotLeadWithZero && identifier.Length > 1 && identifier[0] == '0' &&
                !identifier.ContainsAnyExceptInRange('0', '9'))
            {
                return $"the {what} identifier '{identifier}' is numeric and has a leading zero";
            }
        }

        return null;
    }

    private static string Invalid(string text, string problem, string hint) =>
        $"'{Shown(text)}' is not a valid version: {problem} {hint}";

    // Echoing a megabyte of garbage back to the caller helps nobody.
    private static string Shown(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "…");

    private static string Describe(char c) =>
        char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";

    public int CompareTo(FirmwareVersion? other)
    {
        if (other is null)
        {
            return 1;
        }

        if (ReferenceEquals(this, other))
        {
            return 0;
        }

        var byCore = Major != other.Major ? Major.CompareTo(other.Major)
            : Minor != other.Minor ? Minor.CompareTo(other.Minor)
            : Patch.CompareTo(other.Patch);
        if (byCore != 0)
        {
            return byCore;
        }

        // A release outranks every pre-release of the same core.
        if (_preRelease.Length == 0 || other._preRelease.Length == 0)
        {
            return other._preRelease.Length.CompareTo(_preRelease.Length) switch { < 0 => -1, > 0 => 1, _ => 0 };
        }

        var shared = Math.Min(_preRelease.Length, other._preRelease.Length);
        for (var i = 0; i < shared; i++)
        {
            var byIdentifier = CompareIdentifiers(_preRelease[i], other._preRelease[i]);
            if (byIdentifier != 0)
            {
                return byIdentifier;
            }
        }

        return _preRelease.Length.CompareTo(other._preRelease.Length);
    }

    private static int CompareIdentifiers(string left, string right)
    {
        var leftNumeric = !left.AsSpan().ContainsAnyExceptInRange('0', '9');
        var rightNumeric = !right.AsSpan().ContainsAnyExceptInRange('0', '9');
        if (leftNumeric && rightNumeric)
        {
            // Numeric identifiers have no leading zeros and may exceed any integer type:
            // the longer one is the larger, equal lengths compare digit by digit.
            return left.Length != right.Length
                ? left.Length.CompareTo(right.Length)
                : Math.Sign(string.CompareOrdinal(left, right));
        }

        if (leftNumeric != rightNumeric)
        {
            return leftNumeric ? -1 : 1;
        }

        return Math.Sign(string.CompareOrdinal(left, right));
    }

    public bool Equals(FirmwareVersion? other) => other is not null && CompareTo(other) == 0;

    public override bool Equals(object? obj) => obj is FirmwareVersion other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Major);
        hash.Add(Minor);
        hash.Add(Patch);
        foreach (var identifier in _preRelease)
        {
            hash.Add(identifier, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }

    /// <summary>The normalised text: no leading 'v', build metadata kept.</summary>
    public override string ToString() => _text;

    public static bool operator ==(FirmwareVersion? left, FirmwareVersion? right) =>
        left is null ? right is null : left.Equals(right);

    public static bool operator !=(FirmwareVersion? left, FirmwareVersion? right) => !(left == right);

    public static bool operator <(FirmwareVersion? left, FirmwareVersion? right) => Compare(left, right) < 0;

    public static bool operator >(FirmwareVersion? left, FirmwareVersion? right) => Compare(left, right) > 0;

    public static bool operator <=(FirmwareVersion? left, FirmwareVersion? right) => Compare(left, right) <= 0;

    public static bool operator >=(FirmwareVersion? left, FirmwareVersion? right) => Compare(left, right) >= 0;

    private static int Compare(FirmwareVersion? left, FirmwareVersion? right) =>
        left is null ? (right is null ? 0 : -1) : left.CompareTo(right);
}

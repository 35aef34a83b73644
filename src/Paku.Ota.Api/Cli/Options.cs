namespace Paku.Ota.Api.Cli;

/// <summary>Reads <c>--name value</c> pairs of a verb, refusing unknown or repeated options.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    private Options()
    {
    }

    public static bool TryParse(string[] args, IReadOnlySet<string> known, out Options options, out string? error)
    {
        options = new Options();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || !known.Contains(name[2..]))
            {
                error = $"unknown option '{name}' (known: {string.Join(", ", known.Select(k => "--" + k))})";
                return false;
            }

            if (i + 1 >= args.Length)
            {
                error = $"option '{name}' needs a value";
                return false;
            }

            if (!options._values.TryAdd(name[2..], args[++i]))
            {
                error = $"option '{name}' is given twice";
                return false;
            }
        }

        error = null;
        return true;
    }

    public string? this[string name] => _values.GetValueOrDefault(name);
}

using System.Buffers;
using System.Text.Json;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Api.Http;

/// <summary>
/// Reads an admin request's JSON body strictly, so that every mistake is answered with a 4xx that names
/// the field (<c>target_filter.groups</c>, <c>failure_threshold.percent</c>) instead of a generic binding
/// error: malformed JSON, a field of the wrong JSON type, an unknown or repeated field, a body over the
/// endpoint's size limit (413). Getters return null for a missing field and record a problem for a bad
/// one; <see cref="Error"/> then holds every problem of the body and its nested objects.
/// </summary>
public sealed class JsonFields
{
    // Enough bad array elements to show the pattern; the rest only make the answer longer.
    private const int ReportedElements = 5;

    private readonly Dictionary<string, JsonElement> _values;
    private readonly string _path;
    private readonly bool _nullIsAbsent;
    private readonly Dictionary<string, List<string>> _problems;

    private JsonFields(JsonElement json, string path, bool nullIsAbsent, Dictionary<string, List<string>> problems)
    {
        _path = path;
        _nullIsAbsent = nullIsAbsent;
        _problems = problems;
        _values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in json.EnumerateObject())
        {
            if (!_values.TryAdd(property.Name, property.Value))
            {
                Add(property.Name, $"{Path(property.Name)} appears more than once.");
            }
        }
    }

    /// <summary>The body's field names (the keys, when the body is a map such as device id → groups).</summary>
    public IReadOnlyCollection<string> Names => _values.Keys;

    public int Count => _values.Count;

    /// <summary>Every problem found so far, as one validation error; null when there is none.</summary>
    public Error? Error => _problems.Count == 0
        ? null
        : new Error(
            ErrorKind.Validation, "Invalid request",
            string.Join(" ", _problems.SelectMany(p => p.Value)),
            _problems.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal));

    /// <summary>Reads the request body as one JSON object of at most <paramref name="maxBytes"/> bytes.</summary>
    /// <param name="nullIsAbsent">Whether <c>"field": null</c> means the same as leaving the field out; when
    /// false (a change, where null would be ambiguous) a null is a problem.</param>
    public static async Task<Result<JsonFields>> ReadAsync(HttpRequest request, int maxBytes, bool nullIsAbsent, CancellationToken cancellationToken)
    {
        var body = await ReadLimitedAsync(request, maxBytes, cancellationToken);
        if (body.Length == 0)
        {
            return Application.Common.Error.Validation("body", "The request body is empty; send a JSON object.");
        }

        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return Application.Common.Error.Validation("body", $"The request body is not valid JSON: {e.Message}");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return Application.Common.Error.Validation("body", $"The request body must be a JSON object, not {Describe(root)}.");
        }

        if (JsonText.Check(body.Span) is { } unreadable)
        {
            return unreadable;
        }

        return new JsonFields(root, "", nullIsAbsent, new Dictionary<string, List<string>>(StringComparer.Ordinal));
    }

    /// <summary>Records a problem for every field not in <paramref name="known"/>.</summary>
    public void AllowOnly(params string[] known)
    {
        foreach (var name in _values.Keys)
        {
            if (Array.IndexOf(known, name) < 0)
            {
                Add(name, $"{Path(name)} is not a field here; the fields are {string.Join(", ", known)}.");
            }
        }
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? String(string name) =>
        TryGet(name, out var value) && Expect(name, value, JsonValueKind.String, "a string") ? value.GetString() : null;

    public bool? Boolean(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        Add(name, $"{Path(name)} must be true or false, not {Describe(value)}.");
        return null;
    }

    public int? WholeNumber(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number))
        {
            return number;
        }

        Add(name, $"{Path(name)} must be a whole number, not {Describe(value)}.");
        return null;
    }

    public decimal? Number(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var number))
        {
            return number;
        }

        Add(name, $"{Path(name)} must be a number, not {Describe(value)}.");
        return null;
    }

    /// <summary>An array of strings; null (with a problem recorded) when it is anything else or holds anything else.</summary>
    public IReadOnlyList<string>? Strings(string name)
    {
        if (!TryGet(name, out var value) || !Expect(name, value, JsonValueKind.Array, "an array of strings"))
        {
            return null;
        }

        var strings = new List<string>(value.GetArrayLength());
        var bad = 0;
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            if (element.ValueKind == JsonValueKind.String)
            {
                strings.Add(element.GetString()!);
            }
            else if (++bad <= ReportedElements)
            {
                Add(name, $"{Path(name)}[{index}] must be a string, not {Describe(element)}.");
            }

            index++;
        }

        return bad == 0 ? strings : null;
    }

    /// <summary>A nested object, read with the same rules; its problems are named <c>name.field</c>.</summary>
    public JsonFields? Object(string name) =>
        TryGet(name, out var value) && Expect(name, value, JsonValueKind.Object, "an object")
            ? new JsonFields(value, Path(name) + ".", _nullIsAbsent, _problems)
            : null;

    /// <summary>An array of objects, each read with the same rules; their problems are named
    /// <c>name[i].field</c>. An element that is not an object is a problem and reads as null.</summary>
    public IReadOnlyList<JsonFields?>? Objects(string name)
    {
        if (!TryGet(name, out var value) || !Expect(name, value, JsonValueKind.Array, "an array of objects"))
        {
            return null;
        }

        var objects = new List<JsonFields?>(value.GetArrayLength());
        var index = 0;
        foreach (var element in value.EnumerateArray())
        {
            var at = $"{name}[{index}]";
            if (element.ValueKind == JsonValueKind.Object)
            {
                objects.Add(new JsonFields(element, Path(at) + ".", _nullIsAbsent, _problems));
            }
            else
            {
                Add(at, $"{Path(at)} must be an object, not {Describe(element)}.");
                objects.Add(null);
            }

            index++;
        }

        return objects;
    }

    private bool TryGet(string name, out JsonElement value)
    {
        if (!_values.TryGetValue(name, out value))
        {
            return false;
        }

        if (value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        if (!_nullIsAbsent)
        {
            Add(name, $"{Path(name)} is null; leave the field out to keep its value.");
        }

        return false;
    }

    private bool Expect(string name, JsonElement value, JsonValueKind kind, string expected)
    {
        if (value.ValueKind == kind)
        {
            return true;
        }

        Add(name, $"{Path(name)} must be {expected}, not {Describe(value)}.");
        return false;
    }

    private string Path(string name) => _path + name;

    private void Add(string name, string message)
    {
        var field = Path(name);
        if (!_problems.TryGetValue(field, out var list))
        {
            _problems[field] = list = [];
        }

        list.Add(message);
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"a string ({Shown(value.GetRawText())})",
        JsonValueKind.Number => $"the number {Shown(value.GetRawText())}",
        JsonValueKind.True or JsonValueKind.False => $"the boolean {value.GetRawText()}",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    private static string Shown(string raw) => raw.Length <= 40 ? raw : string.Concat(raw.AsSpan(0, 40), "…");

    /// <summary>The body, refused with 413 as soon as it passes the limit (TestServer has no limit of its
    /// own and Kestrel's is far above what these endpoints need).</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadLimitedAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    private static BadHttpRequestException TooLarge(int maxBytes) =>
        new($"The request body is larger than {maxBytes:N0} bytes, the most this endpoint accepts.", StatusCodes.Status413PayloadTooLarge);
}

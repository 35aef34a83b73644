using System.Text;
using System.Text.Json;
using Paku.Ota.Domain.Text;

namespace Paku.Ota.Api.Http;

/// <summary>
/// Finds the text in a JSON body that the service could neither read nor store: a string or field name
/// holding invalid UTF-8 or a <c>\uD800</c>-style escape without its pair (which System.Text.Json
/// parses but refuses to turn into a string), or <c>\u0000</c> (<see cref="StorableText"/>). A body is
/// checked once, before any field is read, so that every endpoint refuses such text the same way: 400
/// naming the field as the other problems of that body are named (<c>target_filter.groups</c>,
/// <c>devices.esp32_001</c>), whatever the field is used for.
/// </summary>
public static class JsonText
{
    // Enough to show the pattern; a body of ten thousand bad strings needs no ten thousand messages.
    private const int ReportedPerField = 5;

    /// <summary>The problems of <paramref name="json"/> (already known to be well-formed JSON) as one
    /// validation error, or null when all its text can be read and stored.</summary>
    public static Application.Common.Error? Check(ReadOnlySpan<byte> json) =>
        FindUnreadable(json) is { } problems
            ? new Application.Common.Error(Application.Common.ErrorKind.Validation, "Invalid request",
                string.Join(" ", problems.SelectMany(p => p.Value)), problems)
            : null;

    /// <summary>The problems of <paramref name="json"/> (already known to be well-formed JSON), field → messages.</summary>
    public static Dictionary<string, string[]>? FindUnreadable(ReadOnlySpan<byte> json)
    {
        Dictionary<string, string[]>? problems = null;
        var containers = new List<string?>(); // per open object or array: its name in the parent object, if any
        string? property = null;              // the field being read in the innermost object
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    containers.Add(property);
                    property = null;
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    containers.RemoveAt(containers.Count - 1);
                    property = null;
                    break;
                case JsonTokenType.PropertyName:
                    if (Read(ref reader, out property) is { } nameProblem)
                    {
                        property = Raw(reader);
                        Add(ref problems, Field(containers, property), $"The field name '{property}' {nameProblem}.");
                    }

                    break;
                case JsonTokenType.String:
                    if (Read(ref reader, out _) is { } valueProblem)
                    {
                        var field = Field(containers, property);
                        Add(ref problems, field, $"{field} {valueProblem}.");
                    }

                    break;
            }
        }

        return problems;
    }

    private static string Field(List<string?> containers, string? property)
    {
        var names = containers.Append(property).OfType<string>().Select(StorableText.Printable).ToList();
        return names.Count == 0 ? "body" : string.Join('.', names);
    }

    private static string? Read(ref Utf8JsonReader reader, out string? value)
    {
        value = null;
        try
        {
            value = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return "is not valid text: it holds bytes that are not UTF-8, or a \\uD800-\\uDFFF escape without the other half of its pair";
        }

        return StorableText.IsValid(value, out var error) ? null : error;
    }

    /// <summary>The token as sent (escapes not decoded), shown safely: invalid UTF-8 becomes U+FFFD.</summary>
    private static string Raw(Utf8JsonReader reader)
    {
        var raw = Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
        return StorableText.Printable(raw.Length <= 64 ? raw : string.Concat(raw.AsSpan(0, 64), "…"));
    }

    private static void Add(ref Dictionary<string, string[]>? problems, string field, string message)
    {
        problems ??= new Dictionary<string, string[]>(StringComparer.Ordinal);
        if (!problems.TryGetValue(field, out var known))
        {
            problems[field] = [message];
        }
        else if (known.Length < ReportedPerField)
        {
            problems[field] = [.. known, message];
        }
    }
}

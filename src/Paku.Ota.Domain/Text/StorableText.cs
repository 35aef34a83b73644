using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Paku.Ota.Domain.Text;

/// <summary>
/// The one rule for free text that the service keeps (release notes, reasons, error messages, names):
/// it must be text PostgreSQL can store. U+0000 cannot be stored in a text or jsonb value, and a lone
/// UTF-16 surrogate has no UTF-8 form at all; either would fail the statement that tries, and with it
/// every other write sharing its transaction. So such text is refused where it enters, naming the
/// field and the position, and whatever echoes hostile input back (messages, the audit) shows it with
/// <see cref="Printable"/>.
/// </summary>
public static class StorableText
{
    /// <summary>Whether <paramref name="value"/> (null counts as absent, so valid) can be stored;
    /// otherwise <paramref name="error"/> says what is in it and where, e.g.
    /// "contains U+0000 at position 4, which cannot be stored".</summary>
    public static bool IsValid(string? value, [NotNullWhen(false)] out string? error)
    {
        var bad = IndexOfUnstorable(value);
        error = bad < 0 ? null : $"contains U+{(int)value![bad]:X4} at position {bad + 1}, {Why(value[bad])}";
        return error is null;
    }

    /// <summary>The index of the first character that cannot be stored, or -1.</summary>
    public static int IndexOfUnstorable(string? value)
    {
        if (value is null)
        {
            return -1;
        }

        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return i;
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary><paramref name="value"/> with every character that cannot be stored written as a
    /// <c>\uXXXX</c> escape, so that it can be shown, logged and audited; other text is returned as is.</summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Printable(string? value)
    {
        var bad = IndexOfUnstorable(value);
        if (bad < 0)
        {
            return value;
        }

        var text = new StringBuilder(value!.Length + 8).Append(value, 0, bad);
        for (var i = bad; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                text.Append(c).Append(value[++i]);
            }
            else if (c == '\0' || char.IsSurrogate(c))
            {
                text.Append($"\\u{(int)c:X4}");
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    private static string Why(char c) => c == '\0'
        ? "a NUL character, which cannot be stored"
        : "half of a UTF-16 surrogate pair without its other half, which is no character and cannot be stored";
}

using Paku.Ota.Domain.Text;

namespace Paku.Ota.Domain.Tests.Text;

public sealed class StorableTextTests
{
    [TestCase(null)]
    [TestCase("")]
    [TestCase("Faster boot, fixed Wi-Fi reconnects")]
    [TestCase("Grüße, 日本語, emoji \U0001F680 as a surrogate pair")]
    [TestCase("tab\tnewline\ncarriage return\r and U+0001 \u0001 are stored fine")]
    public void Text_without_NUL_or_lone_surrogates_can_be_stored(string? text)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(StorableText.IsValid(text, out var error), Is.True);
            Assert.That(error, Is.Null);
            Assert.That(StorableText.Printable(text), Is.EqualTo(text));
        }
    }

    // Attribute arguments are stored as UTF-8, which has no lone surrogates: these are built at run time.
    private static readonly char High = (char)0xD800;
    private static readonly char Low = (char)0xDC00;

    private static readonly object[] Unstorable =
    [
        new object[] { "abc\0", "contains U+0000 at position 4, a NUL character" },
        new object[] { "\0", "contains U+0000 at position 1" },
        new object[] { $"a{High}b", "contains U+D800 at position 2, half of a UTF-16 surrogate pair" },
        new object[] { $"a{Low}", "contains U+DC00 at position 2" },
        new object[] { $"\U0001F680{(char)0xD83D}", "contains U+D83D at position 3" },
        new object[] { $"{Low}{High}", "contains U+DC00 at position 1" },
    ];

    private static readonly object[] Shown =
    [
        new object[] { "a\0b", "a\\u0000b" },
        new object[] { $"x{High}y{Low}", "x\\uD800y\\uDC00" },
        new object[] { $"pair \U0001F680 kept, lone {(char)0xD83D} shown", "pair \U0001F680 kept, lone \\uD83D shown" },
    ];

    [TestCaseSource(nameof(Unstorable))]
    public void NUL_and_lone_surrogates_are_refused_naming_the_character_and_its_position(string text, string problem)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(StorableText.IsValid(text, out var error), Is.False);
            Assert.That(error, Does.StartWith(problem));
        }
    }

    [TestCaseSource(nameof(Shown))]
    public void Printable_writes_what_cannot_be_stored_as_escapes_and_keeps_the_rest(string text, string printable)
    {
        var shown = StorableText.Printable(text);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(shown, Is.EqualTo(printable));
            Assert.That(StorableText.IsValid(shown, out _), Is.True);
        }
    }
}

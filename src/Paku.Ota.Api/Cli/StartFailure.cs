namespace Paku.Ota.Api.Cli;

/// <summary>A failed start told in one line: the messages of the exception and its causes, each once.</summary>
public static class StartFailure
{
    public static string Describe(Exception failure)
    {
        var parts = new List<string>();
        for (var e = failure; e is not null; e = e.InnerException)
        {
            // the framework wraps (TargetInvocationException, AggregateException of one) without adding a word
            if (e is System.Reflection.TargetInvocationException || (e is AggregateException { InnerExceptions.Count: 1 }))
            {
                continue;
            }

            var message = string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            if (!parts.Any(p => p.Contains(message, StringComparison.Ordinal)))
            {
                parts.Add(message);
            }
        }

        return string.Join(": ", parts.Select(p => p.TrimEnd('.'))) + ".";
    }

    public static async Task DisposeQuietlyAsync(IAsyncDisposable app)
    {
        try
        {
            await app.DisposeAsync();
        }
        catch (Exception)
        {
            // the start already failed and said why; what the half-started host does on the way out adds nothing
        }
    }
}

using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Paku.Ota.Api.Http;

namespace Paku.Ota.Api.Tests.Http;

public sealed class ProblemExceptionHandlerTests
{
    private static async Task<HttpContext> HandleAsync(Exception exception, bool clientGone = false)
    {
        var services = new ServiceCollection().AddLogging().AddProblemDetails().BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Response.Body = new MemoryStream();
        if (clientGone)
        {
            using var aborted = new CancellationTokenSource();
            await aborted.CancelAsync();
            context.RequestAborted = aborted.Token;
        }

        var handler = new ProblemExceptionHandler(services.GetRequiredService<IProblemDetailsService>(), NullLogger<ProblemExceptionHandler>.Instance);
        await handler.TryHandleAsync(context, exception, CancellationToken.None);
        return context;
    }

    [Test]
    public async Task A_client_that_went_away_is_not_a_server_error()
    {
        var context = await HandleAsync(new OperationCanceledException(), clientGone: true);

        Assert.That(context.Response.StatusCode, Is.EqualTo(499));
    }

    [Test]
    public async Task An_unreachable_database_is_a_503_with_retry_after()
    {
        var context = await HandleAsync(new Npgsql.NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException(111)));

        Assert.That(context.Response.StatusCode, Is.EqualTo(503));
        Assert.That(context.Response.Headers.RetryAfter.ToString(), Is.EqualTo("5"));
    }

    [Test]
    public async Task A_cancellation_while_the_client_is_still_there_stays_a_server_error()
    {
        var context = await HandleAsync(new OperationCanceledException());

        Assert.That(context.Response.StatusCode, Is.EqualTo(500));
    }
}

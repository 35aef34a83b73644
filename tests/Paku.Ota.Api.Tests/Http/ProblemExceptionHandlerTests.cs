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

    /// <summary>What a replica meets during a PostgreSQL failover, raised by real Npgsql against the real
    /// server: each must be a 503 with Retry-After (the device comes back), never a 500.</summary>
    [Test]
    public async Task A_failover_in_progress_is_a_503_with_retry_after_whichever_way_npgsql_reports_it()
    {
        var server = new Npgsql.NpgsqlConnectionStringBuilder(Paku.Ota.Testing.TestDatabase.ServerConnectionString);
        var failures = new Dictionary<string, Exception>
        {
            // the hosts answer, but none is of the kind wanted (as when no standby is promoted yet)
            ["no host of the wanted kind"] = await FailureOfAsync($"Host={server.Host}:{server.Port},localhost:{server.Port};Target Session Attributes=standby"),
            // one host down, the other not of the kind wanted
            ["one host down, the other not of the wanted kind"] = await FailureOfAsync($"Host=127.0.0.1:{ClosedPort()},{server.Host}:{server.Port};Target Session Attributes=standby"),
            // both hosts down: the old primary is gone, the standby restarting
            ["every host unreachable"] = await FailureOfAsync($"Host=127.0.0.1:{ClosedPort()},127.0.0.1:{ClosedPort()};Target Session Attributes=primary"),
            // a session still on a node that is no longer the primary
            ["writes refused by a read-only node"] = await FailureOfAsync("", "begin transaction read only; create table failover_probe (x int); commit"),
        };

        foreach (var (what, failure) in failures)
        {
            var context = await HandleAsync(failure);
            Assert.That(context.Response.StatusCode, Is.EqualTo(503), $"{what}: {failure.GetType().Name}: {failure.Message}");
            Assert.That(context.Response.Headers.RetryAfter.ToString(), Is.EqualTo("5"), what);
        }

        async Task<Exception> FailureOfAsync(string hosts, string sql = "select 1")
        {
            var builder = new Npgsql.NpgsqlConnectionStringBuilder(server.ConnectionString + (hosts.Length > 0 ? ";" + hosts : "")) { Timeout = 2 };
            await using var dataSource = Paku.Ota.Infrastructure.Persistence.OtaDatabase.CreateDataSource(builder.ConnectionString);
            try
            {
                await using var command = dataSource.CreateCommand(sql);
                await command.ExecuteNonQueryAsync();
            }
            catch (Exception e)
            {
                return e;
            }

            throw new AssertionException($"'{sql}' on {hosts} did not fail");
        }
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    [Test]
    public async Task A_cancellation_while_the_client_is_still_there_stays_a_server_error()
    {
        var context = await HandleAsync(new OperationCanceledException());

        Assert.That(context.Response.StatusCode, Is.EqualTo(500));
    }
}

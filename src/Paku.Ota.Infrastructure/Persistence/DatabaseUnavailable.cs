using Npgsql;

namespace Paku.Ota.Infrastructure.Persistence;

/// <summary>Recognises the failures that mean "PostgreSQL is not there right now", including the moments
/// of a failover: with several hosts in the connection string and <c>Target Session Attributes=primary</c>,
/// Npgsql answers "No suitable host" while the old primary is gone and the standby not yet promoted, and a
/// session left on a node that stopped being the primary is refused writes (25006).</summary>
public static class DatabaseUnavailable
{
    public static bool Is(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } => true,
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or TimeoutException or IOException } => true,
        NpgsqlException { InnerException: AggregateException every } when every.InnerExceptions.Count > 0 && every.InnerExceptions.All(Is) => true,
        // Npgsql's multi-host data source: every host is down or not of the wanted kind (no primary yet)
        NpgsqlException { InnerException: null } and not PostgresException when exception.Message.StartsWith("No suitable host", StringComparison.Ordinal) => true,
        PostgresException { SqlState: "57P01" or "57P02" or "57P03" or "53300" or "25006" } => true,
        TimeoutException => true,
        _ when exception.InnerException is { } inner => Is(inner),
        _ => false,
    };
}

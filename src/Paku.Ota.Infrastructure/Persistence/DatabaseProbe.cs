using Npgsql;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Infrastructure.Persistence;

public sealed class DatabaseProbe(NpgsqlDataSource dataSource) : IDatabaseProbe
{
    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand("select 1");
            return await command.ExecuteScalarAsync(cancellationToken) is 1;
        }
        catch (NpgsqlException)
        {
            return false;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}

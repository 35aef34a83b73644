using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Updates;
using Paku.Ota.Domain.Versions;

namespace Paku.Ota.Application.Devices.ListUpdateHistory;

/// <summary>The update history (the seed's GET /api/admin/update-status), newest first, filtered by
/// device, firmware version (by SemVer precedence) and status.</summary>
public sealed record ListUpdateHistory(string? DeviceId, string? FirmwareVersion, string? Status, string? Limit)
    : IQuery<Result<IReadOnlyList<UpdateHistoryEntry>>>
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 1000;
    public const string Statuses = "downloading, installing, success, confirmed, rolled_back, failed, timed_out";
}

public sealed class ListUpdateHistoryValidator : AbstractValidator<ListUpdateHistory>
{
    public ListUpdateHistoryValidator()
    {
        RuleFor(q => q.DeviceId).DeviceIdField("device_id").When(q => q.DeviceId is not null);
        RuleFor(q => q.FirmwareVersion).VersionField("firmware_version", optional: true);
        RuleFor(q => q.Status).Custom((status, context) =>
        {
            if (status is not null && !UpdateStatuses.TryParse(status, out _))
            {
                context.AddFailure("status", $"status '{status}' is not one of {ListUpdateHistory.Statuses}.");
            }
        });
        RuleFor(q => q.Limit).WholeNumberField("limit", 1, ListUpdateHistory.MaxLimit);
    }
}

public sealed class ListUpdateHistoryHandler(IUpdateHistory history) : IQueryHandler<ListUpdateHistory, Result<IReadOnlyList<UpdateHistoryEntry>>>
{
    public async ValueTask<Result<IReadOnlyList<UpdateHistoryEntry>>> Handle(ListUpdateHistory query, CancellationToken cancellationToken)
    {
        var filter = new UpdateHistoryFilter(
            query.DeviceId,
            query.FirmwareVersion is null ? null : FirmwareVersion.Parse(query.FirmwareVersion).ToString(),
            query.Status,
            AdminQueryRules.WholeNumberOr(query.Limit, ListUpdateHistory.DefaultLimit));
        return Result<IReadOnlyList<UpdateHistoryEntry>>.Ok(await history.ListAsync(filter, cancellationToken));
    }
}

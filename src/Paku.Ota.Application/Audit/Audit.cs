using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Audit;

/// <summary>One recorded admin action: who (API key name, or "system"), what, on what, and how it ended.</summary>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Action, string? Target, string Outcome, string? DetailsJson);

public interface IAuditLog
{
    Task RecordAsync(string actor, string action, string? target, string outcome, string? detailsJson, CancellationToken cancellationToken);

    /// <summary>Newest first; <paramref name="beforeId"/> pages back.</summary>
    Task<IReadOnlyList<AuditEntry>> ListAsync(int limit, long? beforeId, string? action, CancellationToken cancellationToken);
}

public sealed record ListAudit(int? Limit, long? BeforeId, string? Action) : IQuery<Result<IReadOnlyList<AuditEntry>>>;

public sealed class ListAuditValidator : AbstractValidator<ListAudit>
{
    public ListAuditValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, 1000).OverridePropertyName("limit")
            .WithMessage(q => $"limit must be from 1 to 1000, not {q.Limit}.");
        RuleFor(q => q.BeforeId).GreaterThan(0).OverridePropertyName("before_id")
            .WithMessage("before_id must be a positive audit entry id.");
        RuleFor(q => q.Action).MaximumLength(100).OverridePropertyName("action").WithMessage("action is longer than 100 characters.");
    }
}

public sealed class ListAuditHandler(IAuditLog audit) : IQueryHandler<ListAudit, Result<IReadOnlyList<AuditEntry>>>
{
    public async ValueTask<Result<IReadOnlyList<AuditEntry>>> Handle(ListAudit query, CancellationToken cancellationToken) =>
        Result<IReadOnlyList<AuditEntry>>.Ok(await audit.ListAsync(query.Limit ?? 100, query.BeforeId, query.Action, cancellationToken));
}

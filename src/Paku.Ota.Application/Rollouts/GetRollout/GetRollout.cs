using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;

namespace Paku.Ota.Application.Rollouts.GetRollout;

/// <summary>One rollout with its live progress.</summary>
public sealed record GetRollout(string? Name) : IQuery<Result<RolloutView>>;

public sealed class GetRolloutValidator : AbstractValidator<GetRollout>
{
    public GetRolloutValidator() =>
        RuleFor(q => q.Name).RolloutNameField();
}

public sealed class GetRolloutHandler(IRolloutQueries queries) : IQueryHandler<GetRollout, Result<RolloutView>>
{
    public async ValueTask<Result<RolloutView>> Handle(GetRollout query, CancellationToken cancellationToken) =>
        await queries.GetAsync(query.Name!, cancellationToken) is { } view
            ? view
            : Error.NotFound($"There is no rollout named '{query.Name}'.");
}

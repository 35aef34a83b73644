using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Rollouts.ListRollouts;

/// <summary>Every rollout (of one model, when given), newest first, each with its live progress.</summary>
public sealed record ListRollouts(string? DeviceModel) : IQuery<Result<IReadOnlyList<RolloutView>>>
{
    /// <summary>The model in its one canonical form (<see cref="Domain.Devices.DeviceModel.Canonical"/>), whatever case was sent.</summary>
    public string? DeviceModel { get; init; } = Domain.Devices.DeviceModel.Canonical(DeviceModel);
}

public sealed class ListRolloutsValidator : AbstractValidator<ListRollouts>
{
    public ListRolloutsValidator() =>
        RuleFor(q => q.DeviceModel).DeviceModelField("device_model").When(q => q.DeviceModel is not null);
}

public sealed class ListRolloutsHandler(IRolloutQueries queries) : IQueryHandler<ListRollouts, Result<IReadOnlyList<RolloutView>>>
{
    public async ValueTask<Result<IReadOnlyList<RolloutView>>> Handle(ListRollouts query, CancellationToken cancellationToken) =>
        Result<IReadOnlyList<RolloutView>>.Ok(await queries.ListAsync(query.DeviceModel, cancellationToken));
}

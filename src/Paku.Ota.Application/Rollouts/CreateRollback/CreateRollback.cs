using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;
using Paku.Ota.Domain.Rollouts;
using Paku.Ota.Domain.Updates;

namespace Paku.Ota.Application.Rollouts.CreateRollback;

/// <summary>An operator sends back the devices a halted rollout reached: one action creates the rollout
/// <c>{name}-rollback</c>, which offers the model's previous release (the newest one below the halted
/// rollout's version that is not withdrawn) with <c>allow_downgrade</c> to exactly those devices. While it
/// targets them, no other rollout is offered to them.</summary>
public sealed record CreateRollback(string? Name, string Actor) : ICommand<Result<RolloutView>>;

/// <summary>What creating the rollback needs to know about a rollout.</summary>
/// <param name="PreviousRelease">The newest release of the model below the rollout's version that is not withdrawn, if any.</param>
/// <param name="Devices">The rollout's devices that started the update, with the status of their attempt.</param>
public sealed record RollbackSource(
    Rollout Rollout,
    RolloutRelease? PreviousRelease,
    IReadOnlyList<(string DeviceId, UpdateStatus Status)> Devices);

public sealed class CreateRollbackHandler(IRolloutStore rollouts, IRolloutQueries queries) : ICommandHandler<CreateRollback, Result<RolloutView>>
{
    public const string Suffix = "-rollback";

    public async ValueTask<Result<RolloutView>> Handle(CreateRollback command, CancellationToken cancellationToken)
    {
        var name = command.Name!;
        if (await rollouts.FindRollbackSourceAsync(name, cancellationToken) is not { } source)
        {
            return Error.NotFound($"There is no rollout named '{name}'.");
        }

        var bad = source.Rollout;
        if (bad.State != RolloutState.Halted)
        {
            return Error.Conflict($"Rollout '{name}' is {bad.State.ToWire()}, not halted; only a halted rollout is rolled back this way " +
                "(to send devices back otherwise, create a rollout with allow_downgrade targeting them).");
        }

        if (source.PreviousRelease is not { } previous)
        {
            return Error.Conflict($"Device model '{bad.DeviceModel}' has no release below {bad.Version} that is not withdrawn; there is nothing to roll back to.");
        }

        // the devices that may run the bad release: those whose attempt did not end failed or rolled back
        var devices = source.Devices.Where(d => !RolloutHealth.IsFailure(d.Status)).Select(d => d.DeviceId).ToList();
        if (devices.Count == 0)
        {
            return Error.Conflict($"No device of rollout '{name}' took {bad.Version} (every attempt failed or rolled back); there is nobody to roll back.");
        }

        var creation = Rollout.Create(
            name + Suffix, bad.DeviceModel, previous.Version, TargetType.Specific, TargetFilter.ForDevices(devices), 100,
            isActive: true, allowDowngrade: true);
        if (!creation.Succeeded)
        {
            return Error.Conflict($"The rollback of rollout '{name}' cannot be created: " + string.Join("; ", creation.Errors.Select(e => $"{e.Field}: {e.Message}")));
        }

        if (!await rollouts.AddAsync(creation.Rollout, previous.Id, command.Actor, cancellationToken))
        {
            return Error.Conflict($"A rollout named '{name}{Suffix}' already exists; pause or look at it instead.");
        }

        var view = await queries.GetAsync(creation.Rollout.Name, cancellationToken);
        return view is null ? Error.NotFound($"Rollout '{creation.Rollout.Name}' was removed right after it was created.") : view;
    }
}

public sealed class CreateRollbackValidator : AbstractValidator<CreateRollback>
{
    public CreateRollbackValidator() =>
        RuleFor(c => c.Name).RolloutNameField();
}

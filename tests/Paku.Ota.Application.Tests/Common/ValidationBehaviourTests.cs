using FluentValidation;
using Mediator;
using Paku.Ota.Application.Common;

namespace Paku.Ota.Application.Tests.Common;

public sealed class ValidationBehaviourTests
{
    public sealed record Rename(string Name) : ICommand<Result<string>>;

    private sealed class RenameValidator : AbstractValidator<Rename>
    {
        public RenameValidator() => RuleFor(r => r.Name).NotEmpty().WithName("name").WithMessage("name is required.");
    }

    [Test]
    public async Task Invalid_message_never_reaches_the_handler_and_names_the_field()
    {
        var behaviour = new ValidationBehaviour<Rename, Result<string>>([new RenameValidator()]);
        var reached = false;

        var result = await behaviour.Handle(new Rename(""), (_, _) => { reached = true; return ValueTask.FromResult<Result<string>>("ok"); }, CancellationToken.None);

        Assert.That(reached, Is.False);
        Assert.That(result.IsSuccess, Is.False);
        Assert.That(result.Error!.Kind, Is.EqualTo(ErrorKind.Validation));
        Assert.That(result.Error.Fields!.Keys, Is.EquivalentTo(new[] { "Name" }));
        Assert.That(result.Error.Detail, Is.EqualTo("name is required."));
    }

    [Test]
    public async Task Valid_message_goes_to_the_handler()
    {
        var behaviour = new ValidationBehaviour<Rename, Result<string>>([new RenameValidator()]);

        var result = await behaviour.Handle(new Rename("x"), (m, _) => ValueTask.FromResult<Result<string>>("handled " + m.Name), CancellationToken.None);

        Assert.That(result.Value, Is.EqualTo("handled x"));
    }
}

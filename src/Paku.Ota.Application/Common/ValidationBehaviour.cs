using FluentValidation;
using Mediator;

namespace Paku.Ota.Application.Common;

/// <summary>Runs every FluentValidation validator of a message before its handler; a message that
/// fails never reaches the handler, so nothing is changed by bad input.</summary>
public sealed class ValidationBehaviour<TMessage, TResponse>(IEnumerable<IValidator<TMessage>> validators)
    : IPipelineBehavior<TMessage, TResponse>
    where TMessage : IMessage
{
    private readonly IValidator<TMessage>[] _validators = validators as IValidator<TMessage>[] ?? validators.ToArray();

    public ValueTask<TResponse> Handle(TMessage message, MessageHandlerDelegate<TMessage, TResponse> next, CancellationToken cancellationToken)
    {
        if (_validators.Length == 0)
        {
            return next(message, cancellationToken);
        }

        List<FluentValidation.Results.ValidationFailure>? failures = null;
        var context = new ValidationContext<TMessage>(message);
        foreach (var validator in _validators)
        {
            var result = validator.Validate(context);
            if (!result.IsValid)
            {
                (failures ??= []).AddRange(result.Errors);
            }
        }

        if (failures is null)
        {
            return next(message, cancellationToken);
        }

        var fields = failures
            .GroupBy(f => f.PropertyName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(f => f.ErrorMessage).Distinct().ToArray(), StringComparer.Ordinal);
        var detail = string.Join(" ", fields.SelectMany(f => f.Value));
        var error = new Error(ErrorKind.Validation, "Invalid request", detail, fields);
        return ValueTask.FromResult(FailureFactory.Create(error));
    }

    private static class FailureFactory
    {
        public static readonly Func<Error, TResponse> Create = Build();

        private static Func<Error, TResponse> Build()
        {
            if (typeof(TResponse).IsAssignableTo(typeof(IFailable<TResponse>)))
            {
                var method = typeof(TResponse).GetMethod(nameof(IFailable<TResponse>.Fail), [typeof(Error)])!;
                return method.CreateDelegate<Func<Error, TResponse>>();
            }

            return error => throw new ValidationException(error.Detail);
        }
    }
}

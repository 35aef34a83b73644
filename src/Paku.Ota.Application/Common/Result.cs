namespace Paku.Ota.Application.Common;

/// <summary>What kind of expected failure a use case ended in; the Api maps each to one HTTP status.</summary>
public enum ErrorKind
{
    Validation,
    NotFound,
    Gone,
    Conflict,
    Forbidden,
    Unprocessable,
    Unavailable,
}

/// <summary>An expected failure: a title for people, a detail that says exactly what was wrong, and
/// per-field messages where the input was at fault.</summary>
public sealed record Error(
    ErrorKind Kind,
    string Title,
    string Detail,
    IReadOnlyDictionary<string, string[]>? Fields = null)
{
    public static Error Validation(string field, string message) =>
        new(ErrorKind.Validation, "Invalid request", message, new Dictionary<string, string[]> { [field] = [message] });

    public static Error NotFound(string detail) => new(ErrorKind.NotFound, "Not found", detail);

    public static Error Gone(string detail) => new(ErrorKind.Gone, "Gone", detail);

    public static Error Conflict(string detail) => new(ErrorKind.Conflict, "Conflict", detail);

    public static Error Forbidden(string detail) => new(ErrorKind.Forbidden, "Forbidden", detail);

    public static Error Unprocessable(string detail) => new(ErrorKind.Unprocessable, "Unprocessable", detail);
}

/// <summary>Implemented by result types so a pipeline behaviour can build a failed one without knowing T.</summary>
public interface IFailable<out TSelf>
{
    static abstract TSelf Fail(Error error);
}

/// <summary>The outcome of a use case: a value, or an expected <see cref="Error"/>.</summary>
public readonly struct Result<T> : IFailable<Result<T>>
{
    private readonly T? _value;

    private Result(T? value, Error? error)
    {
        _value = value;
        Error = error;
    }

    public Error? Error { get; }

    public bool IsSuccess => Error is null;

    public T Value => IsSuccess ? _value! : throw new InvalidOperationException($"The result failed: {Error!.Detail}");

    public static Result<T> Ok(T value) => new(value, null);

    public static Result<T> Fail(Error error) => new(default, error);

    public static implicit operator Result<T>(T value) => Ok(value);

    public static implicit operator Result<T>(Error error) => Fail(error);
}

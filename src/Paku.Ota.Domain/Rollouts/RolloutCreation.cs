using System.Diagnostics.CodeAnalysis;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>What <see cref="Rollout.Create"/> made: the rollout, or the reasons it could not.</summary>
public sealed class RolloutCreation
{
    internal RolloutCreation(Rollout? rollout, IReadOnlyList<FieldError> errors)
    {
        Rollout = rollout;
        Errors = errors;
    }

    public Rollout? Rollout { get; }

    /// <summary>Empty exactly when <see cref="Rollout"/> is set.</summary>
    public IReadOnlyList<FieldError> Errors { get; }

    [MemberNotNullWhen(true, nameof(Rollout))]
    public bool Succeeded => Rollout is not null;
}

namespace Paku.Ota.Domain.Rollouts;

/// <summary>A problem with one input field, named as on the wire (e.g. <c>target_filter.device_ids</c>).</summary>
public sealed record FieldError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}

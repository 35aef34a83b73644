using System.Collections.Frozen;

namespace Paku.Ota.Domain.Rollouts;

/// <summary>
/// The device ids (for <see cref="TargetType.Specific"/>) or groups (for <see cref="TargetType.Group"/>)
/// a rollout names. Both compare ordinally; duplicates collapse. Whether the filter suits a target
/// type is the rollout's rule, not the filter's.
/// </summary>
public sealed class TargetFilter
{
    private readonly FrozenSet<string> _deviceIds;
    private readonly FrozenSet<string> _groups;

    public TargetFilter(IEnumerable<string>? deviceIds = null, IEnumerable<string>? groups = null)
    {
        _deviceIds = ToSet(deviceIds, nameof(deviceIds));
        _groups = ToSet(groups, nameof(groups));
    }

    public static TargetFilter None { get; } = new();

    public IReadOnlySet<string> DeviceIds => _deviceIds;
    public IReadOnlySet<string> Groups => _groups;
    public bool IsEmpty => _deviceIds.Count == 0 && _groups.Count == 0;

    public static TargetFilter ForDevices(params IEnumerable<string> deviceIds) => new(deviceIds: deviceIds);

    public static TargetFilter ForGroups(params IEnumerable<string> groups) => new(groups: groups);

    public bool Lists(string deviceId) => _deviceIds.Contains(deviceId);

    /// <summary>Groups match with OR: one shared group is enough.</summary>
    public bool SharesAGroupWith(IReadOnlyCollection<string> deviceGroups)
    {
        // Indexing avoids boxing an enumerator on the per-check path for the usual array or list.
        if (deviceGroups is IReadOnlyList<string> list)
        {
            for (var i = 0; i < list.Count; i++)
            {
                if (_groups.Contains(list[i]))
                {
                    return true;
                }
            }

            return false;
        }

        foreach (var group in deviceGroups)
        {
            if (_groups.Contains(group))
            {
                return true;
            }
        }

        return false;
    }

    private static FrozenSet<string> ToSet(IEnumerable<string>? values, string name)
    {
        if (values is null)
        {
            return FrozenSet<string>.Empty;
        }

        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            set.Add(value ?? throw new ArgumentException("a target filter cannot hold null", name));
        }

        return set.ToFrozenSet(StringComparer.Ordinal);
    }
}

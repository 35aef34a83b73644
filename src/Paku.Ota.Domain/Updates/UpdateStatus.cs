namespace Paku.Ota.Domain.Updates;

/// <summary>Where one device's attempt at one target version stands.</summary>
public enum UpdateStatus
{
    Downloading,
    Installing,

    /// <summary>The device says the image is written and it will boot it.</summary>
    Success,

    /// <summary>Derived: the device checked in running the target.</summary>
    Confirmed,

    /// <summary>Derived: after success the device checked in still running another version.</summary>
    RolledBack,

    Failed,

    /// <summary>Derived: the device stayed silent in a step longer than the rollout's deadline allows.
    /// A failure for the rollout's health, until the device tells the truth: a later report or a
    /// confirming check-in moves the attempt on.</summary>
    TimedOut,
}

/// <summary>Wire names: downloading, installing, success, confirmed, rolled_back, failed, timed_out.</summary>
public static class UpdateStatuses
{
    public const string DeviceReportableWireNames = "downloading, installing, success, failed";

    public static bool TryParse(string? text, out UpdateStatus status)
    {
        switch (text)
        {
            case "downloading": status = UpdateStatus.Downloading; return true;
            case "installing": status = UpdateStatus.Installing; return true;
            case "success": status = UpdateStatus.Success; return true;
            case "confirmed": status = UpdateStatus.Confirmed; return true;
            case "rolled_back": status = UpdateStatus.RolledBack; return true;
            case "failed": status = UpdateStatus.Failed; return true;
            case "timed_out": status = UpdateStatus.TimedOut; return true;
            default: status = default; return false;
        }
    }

    public static string ToWire(this UpdateStatus status) => status switch
    {
        UpdateStatus.Downloading => "downloading",
        UpdateStatus.Installing => "installing",
        UpdateStatus.Success => "success",
        UpdateStatus.Confirmed => "confirmed",
        UpdateStatus.RolledBack => "rolled_back",
        UpdateStatus.Failed => "failed",
        UpdateStatus.TimedOut => "timed_out",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not an update status"),
    };

    /// <summary>Confirmed, rolled back and timed out are the server's conclusions; a device may not claim them.</summary>
    public static bool IsDeviceReportable(this UpdateStatus status) =>
        status is UpdateStatus.Downloading or UpdateStatus.Installing or UpdateStatus.Success or UpdateStatus.Failed;

    /// <summary>No report moves an attempt out of these, except a retry that starts a new attempt. (Timed
    /// out is not among them: the device may still tell what really happened.)</summary>
    public static bool IsTerminal(this UpdateStatus status) =>
        status is UpdateStatus.Confirmed or UpdateStatus.RolledBack or UpdateStatus.Failed;
}

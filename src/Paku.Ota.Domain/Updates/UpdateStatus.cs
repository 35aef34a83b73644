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
}

/// <summary>Wire names: downloading, installing, success, confirmed, rolled_back, failed.</summary>
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
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "not an update status"),
    };

    /// <summary>Confirmed and rolled back are the server's conclusions; a device may not claim them.</summary>
    public static bool IsDeviceReportable(this UpdateStatus status) =>
        status is UpdateStatus.Downloading or UpdateStatus.Installing or UpdateStatus.Success or UpdateStatus.Failed;

    /// <summary>No report moves an attempt out of these, except a retry that starts a new attempt.</summary>
    public static bool IsTerminal(this UpdateStatus status) =>
        status is UpdateStatus.Confirmed or UpdateStatus.RolledBack or UpdateStatus.Failed;
}

using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Paku.Ota.Infrastructure.Certificates;

/// <summary>
/// What device certificates are judged against: the fleet CA, the chain rules, and the fleet CA's CRL when one
/// is configured. The CRL file is read at start-up (a CRL that cannot be read, is not signed by the fleet CA or
/// has expired stops the start with the reason) and read again when it changes, checked every
/// <c>reloadInterval</c>. A changed CRL that fails those checks is logged as an error and the previous list stays
/// in force; a list that expires while in force stays in force too (a revocation is never forgotten), with an
/// error logged at every check until a new CRL is published.
/// </summary>
public sealed class FleetTrust : IDisposable
{
    private readonly string? _crlPath;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ITimer? _timer;
    private readonly Lock _reloading = new();
    private (DateTime Written, long Length) _crlFile;
    private volatile RevocationList? _revocations;
    private int _generation;

    public FleetTrust(X509Certificate2? fleetCa, ChainRules rules, string? crlPath, TimeSpan reloadInterval, TimeProvider time, ILogger<FleetTrust> logger)
    {
        FleetCa = fleetCa;
        Rules = rules;
        _time = time;
        _logger = logger;
        if (string.IsNullOrEmpty(crlPath))
        {
            return;
        }

        if (fleetCa is null)
        {
            throw new InvalidOperationException("Ota:Devices:Crl:Path is set but Ota:Devices:FleetCaPath is not: a CRL is checked against the fleet CA.");
        }

        _crlPath = crlPath;
        try
        {
            _crlFile = Stamp(crlPath);
            _revocations = RevocationList.Parse(File.ReadAllBytes(crlPath), fleetCa, time.GetUtcNow());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            throw new InvalidOperationException($"Ota:Devices:Crl:Path '{crlPath}' cannot be used: {e.Message}.", e);
        }

        _logger.LogInformation("Fleet CA CRL {Path}: {Count} revoked certificates, issued {ThisUpdate:u}, next update {NextUpdate}",
            crlPath, _revocations.Count, _revocations.ThisUpdate, _revocations.NextUpdate?.ToString("u") ?? "(none)");
        _timer = time.CreateTimer(_ => Reload(), null, reloadInterval, reloadInterval);
    }

    public X509Certificate2? FleetCa { get; }

    public ChainRules Rules { get; }

    /// <summary>Moves whenever a new CRL comes into force, so that cached verdicts are judged again.</summary>
    public int Generation => Volatile.Read(ref _generation);

    public RevocationList? Revocations => _revocations;

    /// <summary>Null when the certificate is accepted, else the reason.</summary>
    public string? Refusal(X509Certificate2 certificate, IReadOnlyCollection<X509Certificate2> presented) =>
        FleetCa is null
            ? "no fleet CA is configured on the server (Ota:Devices:FleetCaPath), so no device certificate can be trusted"
            : FleetChain.Refusal(certificate, presented, FleetCa, Rules, _revocations, _time.GetUtcNow());

    /// <summary>Reads the CRL file again if it changed since it was last read.</summary>
    public void Reload()
    {
        if (_crlPath is null || FleetCa is null)
        {
            return;
        }

        lock (_reloading)
        {
            var now = _time.GetUtcNow();
            try
            {
                var stamp = Stamp(_crlPath);
                if (stamp != _crlFile)
                {
                    _crlFile = stamp;
                    var fresh = RevocationList.Parse(File.ReadAllBytes(_crlPath), FleetCa, now);
                    _revocations = fresh;
                    Interlocked.Increment(ref _generation);
                    _logger.LogInformation("Fleet CA CRL {Path} reloaded: {Count} revoked certificates, next update {NextUpdate}",
                        _crlPath, fresh.Count, fresh.NextUpdate?.ToString("u") ?? "(none)");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                _logger.LogError("Fleet CA CRL {Path} was not reloaded: {Reason}; the previous list ({Count} revoked) stays in force",
                    _crlPath, e.Message, _revocations?.Count ?? 0);
            }

            if (_revocations is { } current && current.IsExpiredAt(now))
            {
                _logger.LogError("Fleet CA CRL {Path} expired on {NextUpdate:u}; its {Count} revocations stay in force until a new CRL is published there",
                    _crlPath, current.NextUpdate, current.Count);
            }
        }
    }

    public void Dispose() => _timer?.Dispose();

    private static (DateTime, long) Stamp(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? (file.LastWriteTimeUtc, file.Length) : throw new FileNotFoundException($"there is no file at '{path}'");
    }
}

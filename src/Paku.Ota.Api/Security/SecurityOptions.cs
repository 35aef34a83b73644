namespace Paku.Ota.Api.Security;

/// <summary><c>Ota:Https</c>: the device-facing TLS listener.</summary>
public sealed class HttpsOptions
{
    public int Port { get; set; } = 8443;

    public string? CertificatePath { get; set; }

    public string? KeyPath { get; set; }
}

/// <summary><c>Ota:Devices</c>: how devices prove who they are.</summary>
public sealed class DeviceAuthOptions
{
    /// <summary>PEM certificate of the fleet CA; device certificates must chain to it.</summary>
    public string? FleetCaPath { get; set; }

    /// <summary>Development only: device calls over plain HTTP without a certificate are accepted.</summary>
    public bool AllowPlainHttp { get; set; }

    /// <summary>Header in which a TLS-terminating proxy forwards the client certificate
    /// (URL-encoded PEM as nginx's $ssl_client_escaped_cert, or base64 DER).</summary>
    public string? ForwardedCertificateHeader { get; set; }

    /// <summary>Addresses of the proxies whose forwarded certificate header is believed.</summary>
    public List<string> TrustedProxies { get; set; } = [];

    public IntermediateCaOptions Intermediates { get; set; } = new();

    public CrlOptions Crl { get; set; } = new();
}

/// <summary><c>Ota:Devices:Intermediates</c>: device certificates issued by intermediate CAs under the fleet CA,
/// accepted when the device presents the intermediates in its TLS handshake. The fleet CA stays the only trust
/// anchor.</summary>
public sealed class IntermediateCaOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>The most intermediate CAs between the fleet CA and a device certificate (the fleet CA made by
    /// <c>ca-create</c> allows one, by its path length).</summary>
    public int MaxDepth { get; set; } = 1;
}

/// <summary><c>Ota:Devices:Crl</c>: the fleet CA's certificate revocation list (PEM or DER).</summary>
public sealed class CrlOptions
{
    public string? Path { get; set; }

    /// <summary>How often the file is looked at; it is read again when it changed.</summary>
    public int ReloadSeconds { get; set; } = 60;
}

/// <summary>One admin API key: a name for the audit log, the SHA-256 of the key, and its scope.</summary>
public sealed class ApiKeyOptions
{
    public string Name { get; set; } = "";

    /// <summary><c>sha256:&lt;64 hex&gt;</c>, as printed by the <c>hash-key</c> verb.</summary>
    public string Hash { get; set; } = "";

    /// <summary><c>read</c> or <c>write</c> (write includes read).</summary>
    public string Scope { get; set; } = "read";
}

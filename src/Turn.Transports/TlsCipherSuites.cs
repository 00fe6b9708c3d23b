using System.Net.Security;

namespace Turn.Transports;

/// <summary>
/// The cipher suites TLS connections may use. By default only forward-secret AEAD suites: the three of TLS 1.3, and for
/// TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305, for ECDSA and RSA certificates alike (no CBC, no static RSA key
/// exchange, no SHA-1 MACs). Operators can name their own list (IANA names, e.g. <c>TLS_AES_128_GCM_SHA256</c>), or
/// <c>system</c> for whatever the platform's TLS library allows.
/// </summary>
public static class TlsCipherSuites
{
    /// <summary>The keyword that leaves the choice to the platform.</summary>
    public const string System = "system";

    public static readonly IReadOnlyList<TlsCipherSuite> Default =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>
    /// Reads a list of suite names separated by ':' or ',' (null or empty: <see cref="Default"/>; <see cref="System"/>:
    /// null suites, the platform's choice). Returns false with the offending name in <paramref name="error"/>.
    /// </summary>
    public static bool TryParse(string? text, out IReadOnlyList<TlsCipherSuite>? suites, out string? error)
    {
        error = null;
        suites = Default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (string.Equals(text.Trim(), System, StringComparison.OrdinalIgnoreCase))
        {
            suites = null;
            return true;
        }

        var list = new List<TlsCipherSuite>();
        foreach (string name in text.Split([':', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!name.StartsWith("TLS_", StringComparison.Ordinal) || !Enum.TryParse(name, ignoreCase: false, out TlsCipherSuite suite))
            {
                error = $"unknown cipher suite '{name}' (use IANA names such as TLS_AES_128_GCM_SHA256 or " +
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, or 'system')";
                suites = null;
                return false;
            }

            if (!list.Contains(suite))
            {
                list.Add(suite);
            }
        }

        if (list.Count == 0)
        {
            error = "the cipher suite list is empty";
            suites = null;
            return false;
        }

        suites = list;
        return true;
    }

    /// <summary>The policy for <paramref name="suites"/>, or null (the platform's choice) where policies are not supported.</summary>
    public static CipherSuitesPolicy? Policy(IReadOnlyList<TlsCipherSuite>? suites) =>
        suites is not null && (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())
            ? new CipherSuitesPolicy(suites)
            : null;
}

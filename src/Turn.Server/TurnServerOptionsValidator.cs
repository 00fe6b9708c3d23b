using System.Net;
using Microsoft.Extensions.Options;
using Turn.Stun;

namespace Turn.Server;

/// <summary>Rejects a bad configuration at start with messages that name the key (e.g. "Turn:ListeningPort").</summary>
public sealed class TurnServerOptionsValidator : IValidateOptions<TurnServerOptions>
{
    public ValidateOptionsResult Validate(string? name, TurnServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        string section = TurnServerOptions.SectionName;

        if (options.ListeningPort is < 0 or > 65535)
        {
            failures.Add($"{section}:ListeningPort must be between 0 and 65535 (got {options.ListeningPort}).");
        }

        ValidateAddresses(options.ListeningIps, $"{section}:ListeningIps", failures);

        if (options.AltListeningPort is < 0 or > 65535 || (options.AltListeningPort != 0 && options.AltListeningPort == options.ListeningPort))
        {
            failures.Add($"{section}:AltListeningPort must be 0 (the listening port + 1) or another port of 1-65535 (got {options.AltListeningPort}).");
        }

        if (!options.EnableUdp && !options.EnableTcp)
        {
            failures.Add($"{section}:EnableUdp and {section}:EnableTcp are both false: the server would listen on nothing.");
        }

        if (options.Software is { } software && !TextValue.IsValidText(System.Text.Encoding.UTF8.GetBytes(software), StunConstants.MaxTextCharacters))
        {
            failures.Add($"{section}:Software must be fewer than 128 characters (RFC 8489 §14.14).");
        }

        if (options.UdpReceiveLoops is < 1 or > 256)
        {
            failures.Add($"{section}:UdpReceiveLoops must be 1-256 (got {options.UdpReceiveLoops}).");
        }

        ValidateUdpIo(options, failures);
        ValidateTls(options, failures);

        if (options.TcpIdleTimeoutSeconds < 1)
        {
            failures.Add($"{section}:TcpIdleTimeoutSeconds must be at least 1 (got {options.TcpIdleTimeoutSeconds}).");
        }

        if (options.MaxConnections < 1)
        {
            failures.Add($"{section}:MaxConnections must be at least 1 (got {options.MaxConnections}).");
        }

        if (options.CredentialsToken is { } token)
        {
            if (token.Length < 16)
            {
                failures.Add($"{section}:CredentialsToken must be at least 16 characters long.");
            }

            if (!options.UseAuthSecret || options.StaticAuthSecrets.Count == 0)
            {
                failures.Add($"{section}:CredentialsToken needs TURN REST API credentials: {section}:UseAuthSecret and a {section}:StaticAuthSecrets entry.");
            }

            if (!options.EnableAdmin)
            {
                failures.Add($"{section}:CredentialsToken needs the admin listener ({section}:EnableAdmin).");
            }
        }

        if (options.CallQualityIntervalSeconds is < 1 or > 3600)
        {
            failures.Add($"{section}:CallQualityIntervalSeconds must be 1-3600 (got {options.CallQualityIntervalSeconds}).");
        }

        if (options.ConfigReloadIntervalSeconds < 0)
        {
            failures.Add($"{section}:ConfigReloadIntervalSeconds must be 0 or more (got {options.ConfigReloadIntervalSeconds}).");
        }

        if (options.DrainTimeoutSeconds < 0)
        {
            failures.Add($"{section}:DrainTimeoutSeconds must be 0 or more (got {options.DrainTimeoutSeconds}).");
        }

        for (int i = 0; i < options.AlternateServers.Count; i++)
        {
            if (!TurnServerHost.TryParseAlternateServer(options.AlternateServers[i], out Turn.Stun.TransportAddress alternate))
            {
                failures.Add($"{section}:AlternateServers:{i} must be IP or IP:PORT (got '{options.AlternateServers[i]}').");
            }
            else if (IsOwnListeningAddress(options, alternate))
            {
                // RFC 8489 §10: a redirect to this very server would send its clients round in a loop.
                failures.Add($"{section}:AlternateServers:{i} ({options.AlternateServers[i]}) is this server's own listening address and port.");
            }
        }

        for (int i = 0; i < options.AdvertiseIps.Count; i++)
        {
            if (!IPAddress.TryParse(options.AdvertiseIps[i], out IPAddress? advertised)
                || advertised.Equals(IPAddress.Any) || advertised.Equals(IPAddress.IPv6Any))
            {
                failures.Add($"{section}:AdvertiseIps:{i} must be an IP address clients can reach (got '{options.AdvertiseIps[i]}').");
            }
            else if (options.AdvertiseIps.Take(i).Any(a => IPAddress.TryParse(a, out IPAddress? other) && other.AddressFamily == advertised.AddressFamily))
            {
                failures.Add($"{section}:AdvertiseIps:{i} ({options.AdvertiseIps[i]}) is a second IP of one family; give one per family.");
            }
        }

        if (options.UnauthenticatedRate is < 0 or > 1_000_000)
        {
            failures.Add($"{section}:UnauthenticatedRate must be 0-1000000 (got {options.UnauthenticatedRate}).");
        }

        if (options.UnauthenticatedBurst is < 1 or > 1_000_000)
        {
            failures.Add($"{section}:UnauthenticatedBurst must be 1-1000000 (got {options.UnauthenticatedBurst}).");
        }

        if (options.ClusterLeaseSeconds is < 2 or > 3600)
        {
            failures.Add($"{section}:ClusterLeaseSeconds must be 2-3600 (got {options.ClusterLeaseSeconds}).");
        }

        foreach (var (key, value) in new[] { ("NodeId", options.EffectiveNodeId), ("Region", options.Region) })
        {
            if (string.IsNullOrEmpty(value) || value.Length > 64 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                failures.Add($"{section}:{key} must be 1-64 letters, digits, '-', '_' or '.' (got '{value}').");
            }
        }

        if (options.RedirectAllAllocations && options.AlternateServers.Count == 0)
        {
            failures.Add($"{section}:RedirectAllAllocations needs at least one {section}:AlternateServers entry (--alternate-server).");
        }

        if (options.LogFormat?.ToLowerInvariant() is not ("simple" or "json"))
        {
            failures.Add($"{section}:LogFormat must be 'simple' or 'json' (got '{options.LogFormat}').");
        }

        if (options.EnableAdmin && options.EffectiveAdminEndPoint is null)
        {
            failures.Add($"{section}:AdminListen must be ADDRESS:PORT, e.g. 127.0.0.1:9641 or [::1]:9641 (got '{options.AdminListen}').");
        }

        if (options.AdminPort is < 0 or > 65535)
        {
            failures.Add($"{section}:AdminPort must be 0-65535 (got {options.AdminPort}).");
        }

        ValidateRelay(options, failures);
        ValidateCredentials(options, failures);
        // The relay port range is checked above under its own keys (Turn:MinPort, Turn:MaxPort); leave it out here so
        // a bad range is not reported a second time under keys that do not exist (Turn:RelayMinPort).
        Turn.Relay.Policy.PeerAddressPolicyOptions policy = TurnServerHost.PolicyOptions(options, []);
        policy.RelayMinPort = 0;
        policy.RelayMaxPort = 0;
        failures.AddRange(Turn.Relay.Policy.PeerAddressPolicy.Validate(policy, section));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidateTls(TurnServerOptions options, List<string> failures)
    {
        string section = TurnServerOptions.SectionName;
        if (options.TlsListeningPort is < 0 or > 65535)
        {
            failures.Add($"{section}:TlsListeningPort must be between 0 and 65535 (got {options.TlsListeningPort}).");
        }

        if (options.EnableTls && options.EnableTcp && options.TlsListeningPort is { } tls && tls != 0 && tls == options.ListeningPort)
        {
            failures.Add($"{section}:TlsListeningPort must differ from {section}:ListeningPort (both {tls}): TCP and TLS cannot share a port.");
        }

        if (string.IsNullOrEmpty(options.CertFile) != string.IsNullOrEmpty(options.KeyFile))
        {
            failures.Add($"{section}:CertFile and {section}:KeyFile go together: give both (--cert and --pkey) or neither.");
        }

        foreach (string? file in new[] { options.CertFile, options.KeyFile })
        {
            if (!string.IsNullOrEmpty(file) && !File.Exists(file))
            {
                failures.Add($"{section}: TLS file '{file}' does not exist.");
            }
        }

        if (options.TlsReloadIntervalSeconds < 0)
        {
            failures.Add($"{section}:TlsReloadIntervalSeconds must be 0 (never) or more (got {options.TlsReloadIntervalSeconds}).");
        }

        if (options.DtlsListeningPort is < 0 or > 65535)
        {
            failures.Add($"{section}:DtlsListeningPort must be between 0 and 65535 (got {options.DtlsListeningPort}).");
        }

        if (options.EnableDtls && options.EnableUdp && options.EffectiveDtlsPort is var dtls and not 0 && dtls == options.ListeningPort)
        {
            failures.Add($"{section}:DtlsListeningPort must differ from {section}:ListeningPort (both {dtls}): UDP and DTLS cannot share a port.");
        }

        if (options.DtlsMaxAssociations < 1)
        {
            failures.Add($"{section}:DtlsMaxAssociations must be at least 1 (got {options.DtlsMaxAssociations}).");
        }

        if (options.DtlsIdleTimeoutSeconds < 1)
        {
            failures.Add($"{section}:DtlsIdleTimeoutSeconds must be at least 1 (got {options.DtlsIdleTimeoutSeconds}).");
        }

        if (options.TlsHandshakeTimeoutSeconds < 1)
        {
            failures.Add($"{section}:TlsHandshakeTimeoutSeconds must be at least 1 (got {options.TlsHandshakeTimeoutSeconds}).");
        }

        if (!Turn.Transports.TlsCipherSuites.TryParse(options.TlsCipherSuites, out _, out string? cipherError))
        {
            failures.Add($"{section}:TlsCipherSuites: {cipherError}.");
        }
    }

    private static void ValidateUdpIo(TurnServerOptions options, List<string> failures)
    {
        string section = TurnServerOptions.SectionName;
        if (!UdpIoSetup.TryParseMode(options.UdpIo, out UdpIoMode mode))
        {
            failures.Add($"{section}:UdpIo must be auto, batched or sockets (got '{options.UdpIo}').");
        }
        else if (mode == UdpIoMode.Batched && !Turn.Transports.UdpBatching.IsSupported)
        {
            failures.Add($"{section}:UdpIo=batched needs 64-bit Linux; use auto or sockets here.");
        }

        if (options.UdpBatchSize is < 1 or > 1024)
        {
            failures.Add($"{section}:UdpBatchSize must be 1-1024 (got {options.UdpBatchSize}).");
        }

        if (options.RelayThreads is < 1 or > 256)
        {
            failures.Add($"{section}:RelayThreads must be 1-256 (got {options.RelayThreads}).");
        }
    }

    private static void ValidateRelay(TurnServerOptions options, List<string> failures)
    {
        string section = TurnServerOptions.SectionName;
        ValidateAddresses(options.RelayIps, $"{section}:RelayIps", failures);
        // One relay address per family (RFC 8656 §7.2: REQUESTED-ADDRESS-FAMILY and ADDITIONAL-ADDRESS-FAMILY choose by
        // family); refuse the rest rather than ignore them, and a wildcard, which cannot be told to a client.
        var families = new HashSet<System.Net.Sockets.AddressFamily>();
        foreach (string entry in options.RelayIps)
        {
            if (!IPAddress.TryParse(entry, out IPAddress? address))
            {
                continue;
            }

            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            {
                failures.Add($"{section}:RelayIps: {entry} is a wildcard; a relay address must be one clients can be told.");
            }
            else if (!families.Add(address.AddressFamily))
            {
                failures.Add($"{section}:RelayIps has more than one {(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address; one per family is served.");
            }
        }

        if (options.MinPort is < 1 or > 65535 || options.MaxPort is < 1 or > 65535 || options.MinPort > options.MaxPort)
        {
            failures.Add($"{section}:MinPort and {section}:MaxPort must be 1-65535 with MinPort <= MaxPort (got {options.MinPort}-{options.MaxPort}).");
        }

        for (int i = 0; i < options.ExternalIps.Count; i++)
        {
            if (!ExternalAddressMap.TryParse(options.ExternalIps[i], out _, out _))
            {
                failures.Add($"{section}:ExternalIps:{i} must be PUBLIC or PUBLIC/PRIVATE IP addresses of one family (got '{options.ExternalIps[i]}').");
            }
        }

        if (options.MaxAllocateLifetimeSeconds < 600)
        {
            failures.Add($"{section}:MaxAllocateLifetimeSeconds must be at least the default lifetime of 600 (got {options.MaxAllocateLifetimeSeconds}).");
        }

        Positive(options.UserQuota, $"{section}:UserQuota", allowZero: true, failures);
        Positive(options.TotalQuota, $"{section}:TotalQuota", allowZero: true, failures);
        if (options.MaxBps < 0)
        {
            failures.Add($"{section}:MaxBps must be 0 or more (got {options.MaxBps}).");
        }

        Positive(options.MaxPermissionsPerAllocation, $"{section}:MaxPermissionsPerAllocation", allowZero: false, failures);
        if (options.MaxChannelsPerAllocation is < 1 or > 4096)
        {
            failures.Add($"{section}:MaxChannelsPerAllocation must be 1-4096 (got {options.MaxChannelsPerAllocation}).");
        }
    }

    private static void ValidateCredentials(TurnServerOptions options, List<string> failures)
    {
        string section = TurnServerOptions.SectionName;
        if (string.IsNullOrEmpty(options.Realm) || !TextValue.IsValidText(System.Text.Encoding.UTF8.GetBytes(options.Realm), StunConstants.MaxTextCharacters))
        {
            failures.Add($"{section}:Realm must be 1 to 127 characters (RFC 8489 §14.9).");
        }

        for (int i = 0; i < options.Users.Count; i++)
        {
            int colon = options.Users[i].IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == options.Users[i].Length - 1)
            {
                // The value is a credential: name the entry, never echo it.
                failures.Add($"{section}:Users:{i} must be NAME:PASSWORD with both parts non-empty.");
            }
        }

        for (int i = 0; i < options.StaticAuthSecrets.Count; i++)
        {
            if (string.IsNullOrEmpty(options.StaticAuthSecrets[i]))
            {
                failures.Add($"{section}:StaticAuthSecrets:{i} must not be empty.");
            }
        }

        if (options.UseAuthSecret && options.StaticAuthSecrets.Count == 0)
        {
            failures.Add($"{section}:UseAuthSecret needs at least one {section}:StaticAuthSecrets entry (--static-auth-secret).");
        }

        if (options.StaleNonceSeconds < 1)
        {
            failures.Add($"{section}:StaleNonceSeconds must be at least 1 (got {options.StaleNonceSeconds}).");
        }
    }

    private static void ValidateAddresses(IList<string> addresses, string key, List<string> failures)
    {
        for (int i = 0; i < addresses.Count; i++)
        {
            if (!ExternalAddressMap.TryParseAddress(addresses[i], out _))
            {
                failures.Add($"{key}:{i} is not an IP address (IPv4 as four dotted numbers; got '{addresses[i]}').");
            }
        }
    }

    private static void Positive(int value, string key, bool allowZero, List<string> failures)
    {
        if (value < 0 || (!allowZero && value == 0))
        {
            failures.Add($"{key} must be {(allowZero ? "0 or more" : "at least 1")} (got {value}).");
        }
    }

    /// <summary>
    /// Whether <paramref name="alternate"/> is one of this server's listening ports (UDP/TCP, TLS or DTLS) on a listening
    /// address, or on any address of this host when it listens on the wildcard.
    /// </summary>
    private static bool IsOwnListeningAddress(TurnServerOptions options, Turn.Stun.TransportAddress alternate)
    {
        int port = alternate.Port;
        if (port == 0 || (port != options.ListeningPort && port != options.EffectiveTlsPort && port != options.EffectiveDtlsPort))
        {
            return false;
        }

        IPAddress ip = alternate.ToIPAddress();
        if (options.ListeningIps.Count > 0 && !options.ListeningIps.Any(l => l is "0.0.0.0" or "::"))
        {
            return options.ListeningIps.Any(l => IPAddress.TryParse(l, out IPAddress? own) && own.Equals(ip));
        }

        return IPAddress.IsLoopback(ip) || System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(nic => nic.GetIPProperties().UnicastAddresses).Any(u => u.Address.Equals(ip));
    }
}

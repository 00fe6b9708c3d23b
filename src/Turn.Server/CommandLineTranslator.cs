using System.Globalization;
using System.Text;

namespace Turn.Server;

/// <summary>
/// Accepts the coturn-style flags operators know from <c>turnserver</c> (and a few of our own) and turns them into
/// configuration keys, so every setting has one home: <see cref="TurnServerOptions"/>. Native .NET configuration
/// arguments (<c>--Section:Key=value</c> or <c>--Section:Key value</c>) pass through unchanged. Anything else is an
/// error naming the argument.
/// </summary>
public static class CommandLineTranslator
{
    private enum Kind
    {
        /// <summary>Takes a value: --flag VALUE or --flag=VALUE.</summary>
        Value,
        /// <summary>Takes a value and may be given several times; each lands at the next index of a list key.</summary>
        ListValue,
        /// <summary>Takes no value; sets the key to a fixed value.</summary>
        Switch,
        /// <summary>--flag=VALUE, or bare --flag for the default value (never takes the next argument).</summary>
        OptionalValue,
    }

    private sealed record Flag(string Long, char? Short, Kind Kind, string Key, string? SwitchValue, string? ValueName, string Help);

    private static readonly Flag[] Flags =
    [
        new("listening-port", 'p', Kind.Value, "Turn:ListeningPort", null, "PORT",
            "UDP and TCP port to listen on (default 3478; 0 picks a free one)."),
        new("listening-ip", 'L', Kind.ListValue, "Turn:ListeningIps", null, "IP",
            "Address to listen on; repeat for several (default 0.0.0.0 and ::)."),
        new("no-udp", null, Kind.Switch, "Turn:EnableUdp", "false", null, "Do not listen on UDP."),
        new("no-tcp", null, Kind.Switch, "Turn:EnableTcp", "false", null, "Do not listen on TCP."),
        new("no-tls", null, Kind.Switch, "Turn:EnableTls", "false", null, "Do not listen on TLS."),
        new("tls-listening-port", null, Kind.Value, "Turn:TlsListeningPort", null, "PORT",
            "TLS port (default 5349; a free one when --listening-port is 0)."),
        new("cert", null, Kind.Value, "Turn:CertFile", null, "FILE",
            "PEM certificate (and chain) for TLS; without it a self-signed one is generated at start."),
        new("pkey", null, Kind.Value, "Turn:KeyFile", null, "FILE", "PEM private key of --cert."),
        new("cipher-list", null, Kind.Value, "Turn:TlsCipherSuites", null, "SUITES",
            "TLS cipher suites, IANA names separated by ':' (default: forward-secret AEAD suites only; 'system': the platform's)."),
        new("tls-reload-interval", null, Kind.Value, "Turn:TlsReloadIntervalSeconds", null, "SECONDS",
            "Check the --cert/--pkey files this often and serve a changed certificate to new connections (default 5; 0: never)."),
        new("tls-handshake-timeout", null, Kind.Value, "Turn:TlsHandshakeTimeoutSeconds", null, "SECONDS",
            "Close a TLS connection, or drop a DTLS association, whose handshake takes longer (default 10)."),
        new("no-dtls", null, Kind.Switch, "Turn:EnableDtls", "false", null, "Do not listen on DTLS."),
        new("alt-listening-port", null, Kind.Value, "Turn:AltListeningPort", null, "PORT",
            "RFC 5780 second UDP port, on each of two listening IPs of a family (default: listening port + 1)."),
        new("no-rfc5780", null, Kind.Switch, "Turn:Rfc5780", "false", null,
            "No RFC 5780 NAT behaviour discovery even with two listening IPs of a family."),
        new("dtls-listening-port", null, Kind.Value, "Turn:DtlsListeningPort", null, "PORT",
            "DTLS (UDP) port (default: the TLS port, 5349; a free one when the TLS port is 0)."),
        new("dtls-max-associations", null, Kind.Value, "Turn:DtlsMaxAssociations", null, "N",
            "DTLS associations open at once, handshaking or established (default 1000)."),
        new("dtls-idle-timeout", null, Kind.Value, "Turn:DtlsIdleTimeoutSeconds", null, "SECONDS",
            "Close a DTLS association without an allocation after this long without traffic (default 60)."),
        new("software", null, Kind.Value, "Turn:Software", null, "NAME",
            "SOFTWARE attribute sent in responses (default \"" + TurnServerOptions.DefaultSoftware + "\")."),
        new("no-software-attribute", null, Kind.Switch, "Turn:Software", "", null, "Send no SOFTWARE attribute."),
        new("fingerprint", 'f', Kind.Switch, "Turn:Fingerprint", "true", null,
            "Add FINGERPRINT to Data indications too (responses always carry it)."),
        new("udp-receive-loops", null, Kind.Value, "Turn:UdpReceiveLoops", null, "N",
            "UDP sockets (one receive loop each) per listening address, sharing the port (default: one per core)."),
        new("udp-io", null, Kind.Value, "Turn:UdpIo", null, "MODE",
            "UDP serving: auto (default), batched (recvmmsg/sendmmsg, 64-bit Linux) or sockets (portable)."),
        new("udp-batch", null, Kind.Value, "Turn:UdpBatchSize", null, "N",
            "Datagrams per recvmmsg/sendmmsg call in batched mode (default 32)."),
        new("no-udp-gso", null, Kind.Switch, "Turn:UdpGso", "false", null,
            "In batched mode, send every datagram on its own instead of runs of equal ones as one UDP GSO message."),
        new("relay-threads", null, Kind.Value, "Turn:RelayThreads", null, "N",
            "Threads serving relay sockets in batched mode (default: one per core)."),
        new("tcp-idle-timeout", null, Kind.Value, "Turn:TcpIdleTimeoutSeconds", null, "SECONDS",
            "Close a TCP connection idle this long (default 300)."),
        new("admin-listen", null, Kind.Value, "Turn:AdminListen", null, "ADDRESS:PORT",
            "Admin HTTP listener: Prometheus /metrics, /healthz, /readyz (default 127.0.0.1:9641)."),
        new("no-admin", null, Kind.Switch, "Turn:EnableAdmin", "false", null, "No admin HTTP listener."),
        new("prometheus", null, Kind.Switch, "Turn:EnableAdmin", "true", null,
            "coturn: serve Prometheus metrics (/metrics on the admin listener; on by default here)."),
        new("prometheus-port", null, Kind.Value, "Turn:AdminPort", null, "PORT", "coturn: the admin listener's port (default 9641)."),
        new("max-connections", null, Kind.Value, "Turn:MaxConnections", null, "N",
            "Client connections (TCP and TLS together) open at once at most; more are closed on arrival (default 10000)."),
        new("relay-ip", 'E', Kind.ListValue, "Turn:RelayIps", null, "IP",
            "Address relay sockets bind to; one IPv4 and one IPv6 at most (default: the listening addresses, else the host's first IPv4 and global IPv6)."),
        new("min-port", null, Kind.Value, "Turn:MinPort", null, "PORT", "Lowest relay port (default 49152)."),
        new("max-port", null, Kind.Value, "Turn:MaxPort", null, "PORT", "Highest relay port (default 65535)."),
        new("external-ip", 'X', Kind.ListValue, "Turn:ExternalIps", null, "PUBLIC[/PRIVATE]",
            "Public address shown in XOR-RELAYED-ADDRESS for a relay address behind 1:1 NAT."),
        new("max-allocate-lifetime", null, Kind.Value, "Turn:MaxAllocateLifetimeSeconds", null, "SECONDS",
            "Longest allocation lifetime granted (default 3600)."),
        new("user-quota", null, Kind.Value, "Turn:UserQuota", null, "N", "Allocations per username (default 0: no limit)."),
        new("total-quota", null, Kind.Value, "Turn:TotalQuota", null, "N", "Allocations on the server (default 0: no limit)."),
        new("unauthenticated-rate", null, Kind.Value, "Turn:UnauthenticatedRate", null, "PER_SECOND",
            "Requests failing authentication answered per second per source IP; more are dropped (default 100; 0: no limit)."),
        new("unauthenticated-burst", null, Kind.Value, "Turn:UnauthenticatedBurst", null, "N",
            "The burst --unauthenticated-rate allows an address after a quiet time (default 400)."),
        new("max-bps", null, Kind.Value, "Turn:MaxBps", null, "BYTES",
            "Bytes per second one allocation may relay in each direction (default 0: no limit)."),
        new("legacy-channel-numbers", null, Kind.Switch, "Turn:LegacyChannelNumbers", "true", null,
            "Also accept RFC 5766 channel numbers 0x5000-0x7FFF (coturn's turnutils_uclient picks them)."),
        new("realm", 'r', Kind.Value, "Turn:Realm", null, "REALM", "REALM of the long-term credentials (default turn.local)."),
        new("user", 'u', Kind.ListValue, "Turn:Users", null, "NAME:PASSWORD", "A long-term user; repeat for several."),
        new("lt-cred-mech", 'a', Kind.Switch, "Turn:LongTermCredentials", "true", null,
            "Accepted for coturn compatibility: TURN requests always need long-term credentials."),
        new("use-auth-secret", null, Kind.Switch, "Turn:UseAuthSecret", "true", null,
            "TURN REST API credentials (needs --static-auth-secret)."),
        new("static-auth-secret", null, Kind.ListValue, "Turn:StaticAuthSecrets", null, "SECRET",
            "TURN REST API shared secret; repeat for rotation (every one is tried)."),
        new("stale-nonce", null, Kind.OptionalValue, "Turn:StaleNonceSeconds", "600", "SECONDS",
            "Nonce lifetime before 438 Stale Nonce (default 600)."),
        new("allow-loopback-peers", null, Kind.Switch, "Turn:AllowLoopbackPeers", "true", null,
            "Allow relaying to loopback peers (tests and development only)."),
        new("allowed-peer-ip", null, Kind.ListValue, "Turn:AllowedPeerRanges", null, "IP|IP-IP|CIDR",
            "Allow these peers in spite of the default denials; repeatable."),
        new("denied-peer-ip", null, Kind.ListValue, "Turn:DeniedPeerRanges", null, "IP|IP-IP|CIDR",
            "Deny these peers on top of the defaults; repeatable."),
        new("credentials-token", null, Kind.Value, "Turn:CredentialsToken", null, "TOKEN",
            "Serve GET /credentials on the admin listener to holders of this bearer token (off by default)."),
        new("credentials-host", null, Kind.Value, "Turn:CredentialsHost", null, "HOST",
            "Host in the URLs GET /credentials hands out (default: the first --external-ip, else the realm)."),
        new("no-call-quality", null, Kind.Switch, "Turn:CallQuality", "false", null,
            "Do not measure call quality on relayed data (ICE check round trips, RTP loss and jitter)."),
        new("call-quality-interval", null, Kind.Value, "Turn:CallQualityIntervalSeconds", null, "SECONDS",
            "How often an RTP stream's loss and jitter are reported (default 5)."),
        new("config-reload-interval", null, Kind.Value, "Turn:ConfigReloadIntervalSeconds", null, "SECONDS",
            "How often appsettings.json and the -c file are checked for changes, which reload them (default 5; 0: only SIGHUP)."),
        new("drain-timeout", null, Kind.Value, "Turn:DrainTimeoutSeconds", null, "SECONDS",
            "On SIGTERM or POST /drain: longest wait for the last allocation before stopping (default 600)."),
        new("alternate-server", null, Kind.ListValue, "Turn:AlternateServers", null, "IP[:PORT]",
            "While draining, send new clients here (300 Try Alternate); repeat for several, taken in turn."),
        new("redirect-all-allocations", null, Kind.Switch, "Turn:RedirectAllAllocations", "true", null,
            "Send every new client to an alternate server (coturn's alternate-server behaviour), not only while draining."),
        new("alternate-domain", null, Kind.Value, "Turn:AlternateDomain", null, "NAME",
            "The alternate servers' certificate name (ALTERNATE-DOMAIN, over TLS and DTLS)."),
        new("redis", null, Kind.Value, "Turn:Redis", null, "CONFIG",
            "Join the cluster of the region through Redis (e.g. 10.0.0.5:6379,password=S): shared quotas, revocation, load; off by default."),
        new("node-id", null, Kind.Value, "Turn:NodeId", null, "ID", "This node's name in the cluster (default: the host name)."),
        new("region", null, Kind.Value, "Turn:Region", null, "NAME", "The region whose nodes share quotas (default \"default\")."),
        new("advertise-ip", null, Kind.ListValue, "Turn:AdvertiseIps", null, "IP",
            "The IP other nodes send clients here at (ALTERNATE-SERVER), one per family (default: external, listening or relay IP)."),
        new("cluster-lease", null, Kind.Value, "Turn:ClusterLeaseSeconds", null, "SECONDS",
            "A node stopped without notice stops counting toward quotas this long after its last heartbeat (default 10)."),
        new("log-format", null, Kind.Value, "Turn:LogFormat", null, "FORMAT",
            "Log lines: simple (default) or json (one JSON object per line)."),
        new("verbose", 'v', Kind.Switch, "Logging:LogLevel:Default", "Debug", null, "Log at Debug level."),
    ];

    /// <summary>The result: configuration arguments for the host, or a request for help, or an error to print.</summary>
    public sealed record Result(IReadOnlyList<string> ConfigurationArguments, bool HelpRequested, bool VersionRequested, string? Error);

    public static Result Translate(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var state = new State();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (arg is "-h" or "--help" or "-?")
            {
                return new Result(state.Translated, true, false, null);
            }

            if (arg is "--version")
            {
                return new Result(state.Translated, false, true, null);
            }

            string name;
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.Length > 2)
            {
                name = arg[2..];
                int equals = name.IndexOf('=', StringComparison.Ordinal);
                if (equals >= 0)
                {
                    inlineValue = name[(equals + 1)..];
                    name = name[..equals];
                }

                if (name.Contains(':', StringComparison.Ordinal))
                {
                    // Native configuration key: --Section:Key=value or --Section:Key value.
                    string? nativeValue = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
                    if (nativeValue is null)
                    {
                        return Fail($"Option '--{name}' needs a value.");
                    }

                    state.Translated.Add($"--{name}={nativeValue}");
                    continue;
                }
            }
            else if (arg.Length == 2 && arg[0] == '-' && arg[1] != '-')
            {
                name = arg[1..];
            }
            else
            {
                return Fail($"Unexpected argument '{arg}'. Run 'turn-server --help' for the list of options.");
            }

            if (name is "c" or "config")
            {
                string? path = inlineValue ?? (i + 1 < args.Count ? args[++i] : null);
                // The command line wins over the file wherever -c stands, as in coturn: file settings go first.
                state.ReadingFile = true;
                string? fileError = path is null ? $"Option '{arg}' needs a value (FILE)." : ReadConfigurationFile(path, state);
                state.ReadingFile = false;
                if (fileError is not null)
                {
                    return Fail(fileError);
                }

                continue;
            }

            Flag? flag = Find(name);
            if (flag is null)
            {
                return Fail($"Unknown option '{arg}'. Run 'turn-server --help' for the list of options.");
            }

            if (inlineValue is null && flag.Kind is Kind.Value or Kind.ListValue)
            {
                inlineValue = i + 1 < args.Count ? args[++i] : null;
                if (inlineValue is null)
                {
                    return Fail($"Option '{arg}' needs a value ({flag.ValueName}).");
                }
            }

            string? error = state.Apply(flag, inlineValue, $"Option '--{flag.Long}'");
            if (error is not null)
            {
                return Fail(error);
            }
        }

        return new Result([.. state.FromFile, .. state.Translated], false, false, null);
    }

    /// <summary>
    /// Reads a coturn turnserver.conf: one option a line, "name=value", "name value" or a bare "name"; a "#" at the
    /// start of a line or after a blank (outside double quotes) starts a comment, so "#" inside a value (a password,
    /// a secret) is kept. An empty value counts as none. Every name must be one of the flags above; anything else is
    /// an error naming the file and line.
    /// </summary>
    private static string? ReadConfigurationFile(string path, State state)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"Cannot read configuration file '{path}': {ex.Message}";
        }

        for (int number = 1; number <= lines.Length; number++)
        {
            string line = lines[number - 1];
            line = WithoutComment(line).Trim();
            if (line.Length == 0)
            {
                continue;
            }

            int separator = line.IndexOfAny(['=', ' ', '\t']);
            string name = (separator >= 0 ? line[..separator] : line).Trim();
            string rawValue = separator >= 0 ? line[(separator + 1)..].Trim().TrimStart('=').Trim() : string.Empty;
            string? value = rawValue.Length > 0 ? Unquote(rawValue) : null;
            if (name.StartsWith("--", StringComparison.Ordinal))
            {
                name = name[2..];
            }

            string where = $"{path}:{number}";
            Flag? flag = name.Length > 1 ? Find(name) : null;
            if (flag is null)
            {
                return $"{where}: unknown option '{name}'.";
            }

            if (value is null && flag.Kind is Kind.Value or Kind.ListValue)
            {
                return $"{where}: option '{name}' needs a value ({flag.ValueName}).";
            }

            string? error = state.Apply(flag, value, $"{where}: option '{name}'");
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    private static string WithoutComment(string line)
    {
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            if (line[i] == '"')
            {
                quoted = !quoted;
            }
            else if (line[i] == '#' && !quoted && (i == 0 || char.IsWhiteSpace(line[i - 1])))
            {
                return line[..i];
            }
        }

        return line;
    }

    private static string Unquote(string value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;

    public static string HelpText()
    {
        var text = new StringBuilder();
        text.AppendLine("turn-server: a STUN/TURN relay server (RFC 8489, RFC 8656).");
        text.AppendLine();
        text.AppendLine("Usage: turn-server [options]");
        text.AppendLine("       turn-server credentials --url turn:HOST[:PORT] --secret SECRET [--user ID] [--ttl SECONDS] [--json]");
        text.AppendLine("           mints TURN REST API credentials and an RTCIceServer JSON (turn-server credentials --help)");
        text.AppendLine("       turn-server revoke --redis CONFIG --user NAME [--region NAME] [--end-allocations] [--restore]");
        text.AppendLine("           revokes a username on every node of a region (turn-server revoke --help)");
        text.AppendLine("       turn-server probe --url turn:HOST[:PORT] --secret SECRET [--seconds N] [--prometheus-port PORT]");
        text.AppendLine("           relays through a TURN server to itself and reports RTT and loss (turn-server probe --help)");
        text.AppendLine();
        text.AppendLine("Options (coturn-compatible names):");
        foreach (Flag flag in Flags)
        {
            string names = (flag.Short is { } s ? $"-{s}, " : "    ") + "--" + flag.Long + (flag.ValueName is null ? "" : " " + flag.ValueName);
            text.Append("  ").Append(names.PadRight(35)).Append(' ').AppendLine(flag.Help);
            text.Append(' ', 40).Append("(configuration key ").Append(flag.Key).AppendLine(")");
        }

        text.Append("  ").Append("-c FILE".PadRight(36)).AppendLine("Read options from a coturn-style turnserver.conf (name=value lines).");
        text.Append("  ").Append("-h, --help".PadRight(36)).AppendLine("Show this text and exit.");
        text.Append("  ").Append("    --version".PadRight(36)).AppendLine("Show the version and exit.");
        text.AppendLine();
        text.AppendLine("Every setting is also a configuration key, settable as:");
        text.AppendLine("  --Turn:Key=value               on the command line (e.g. --Turn:ListeningPort=3479)");
        text.AppendLine("  TURN__Key=value                in the environment (e.g. TURN__LISTENINGPORT=3479)");
        text.AppendLine("  appsettings.json               section \"Turn\", in the working directory");
        text.AppendLine("Keys without a flag: MaxPermissionsPerAllocation, MaxChannelsPerAllocation.");
        return text.ToString();
    }

    private static Flag? Find(string name)
    {
        foreach (Flag flag in Flags)
        {
            if (name == flag.Long || (name.Length == 1 && flag.Short == name[0]))
            {
                return flag;
            }
        }

        return null;
    }

    private static Result Fail(string message) => new([], false, false, message);

    /// <summary>Configuration arguments built so far; list flags continue their index across file and command line.</summary>
    private sealed class State
    {
        private readonly Dictionary<string, int> _listCounts = new(StringComparer.OrdinalIgnoreCase);

        public List<string> Translated { get; } = [];

        /// <summary>Arguments from configuration files, placed before the command line's so the command line wins.</summary>
        public List<string> FromFile { get; } = [];

        public bool ReadingFile { get; set; }

        private List<string> Target => ReadingFile ? FromFile : Translated;

        /// <summary>Adds the configuration argument for one flag occurrence; returns an error message or null.</summary>
        public string? Apply(Flag flag, string? value, string what)
        {
            switch (flag.Kind)
            {
                case Kind.Switch:
                    if (value is not null)
                    {
                        return $"{what} takes no value.";
                    }

                    Target.Add($"--{flag.Key}={flag.SwitchValue}");
                    return null;
                case Kind.OptionalValue:
                    Target.Add($"--{flag.Key}={value ?? flag.SwitchValue}");
                    return null;
                case Kind.ListValue:
                    _listCounts.TryGetValue(flag.Key, out int index);
                    _listCounts[flag.Key] = index + 1;
                    Target.Add(string.Create(CultureInfo.InvariantCulture, $"--{flag.Key}:{index}={value}"));
                    return null;
                default:
                    Target.Add($"--{flag.Key}={value}");
                    return null;
            }
        }
    }
}

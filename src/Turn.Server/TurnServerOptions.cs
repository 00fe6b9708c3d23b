using System.Net;

namespace Turn.Server;

/// <summary>
/// The server's settings, section "Turn" of configuration (appsettings.json, TURN__* environment variables,
/// --Turn:Key=value, or the coturn-style flags of <see cref="CommandLineTranslator"/>). Validated at start by
/// <see cref="TurnServerOptionsValidator"/>, then frozen.
/// </summary>
public sealed class TurnServerOptions
{
    public const string SectionName = "Turn";

    public const string DefaultSoftware = "turn-server";

    /// <summary>UDP and TCP port for STUN/TURN (RFC 8656 §4.1 default 3478). 0 picks one free port for all listeners.</summary>
    public int ListeningPort { get; set; } = 3478;

    /// <summary>
    /// RFC 5780 NAT behaviour discovery: with two listening IPs of one family, UDP also listens on this second port of
    /// both, and Binding serves CHANGE-REQUEST, RESPONSE-PORT and PADDING. 0: the listening port + 1 (a free one when
    /// the listening port is 0).
    /// </summary>
    public int AltListeningPort { get; set; }

    /// <summary>
    /// Shared cluster state (StackExchange.Redis configuration string, e.g. "10.0.0.5:6379,password=..."); null: this
    /// node alone.
    /// </summary>
    public string? Redis { get; set; }

    /// <summary>This node's name in the cluster (default: the host name).</summary>
    public string? NodeId { get; set; }

    /// <summary>The region this node serves; nodes share quotas with the nodes of their region.</summary>
    public string Region { get; set; } = "default";

    /// <summary>How long a node's share of the cluster state outlives its last heartbeat (a dead node stops counting).</summary>
    public int ClusterLeaseSeconds { get; set; } = 10;

    /// <summary>
    /// The IPs (one per family) other nodes' clients reach this node at, told to them in ALTERNATE-SERVER when a full or
    /// draining node of the cluster sends them here. Empty: the public address of --external-ip, else the listening IP,
    /// else the relay IP of each family.
    /// </summary>
    public IList<string> AdvertiseIps { get; } = [];

    /// <summary>The node id in effect.</summary>
    public string EffectiveNodeId => string.IsNullOrEmpty(NodeId) ? Environment.MachineName : NodeId;

    /// <summary>RFC 5780 on when two listening IPs of a family allow it; false keeps Binding plain.</summary>
    public bool Rfc5780 { get; set; } = true;

    /// <summary>Addresses to listen on; empty means 0.0.0.0 and :: (IPv6 skipped with a warning when the host has none).</summary>
    public IList<string> ListeningIps { get; } = [];

    public bool EnableUdp { get; set; } = true;

    public bool EnableTcp { get; set; } = true;

    /// <summary>TURN over TLS (RFC 8656 §5) on <see cref="TlsListeningPort"/>.</summary>
    public bool EnableTls { get; set; } = true;

    /// <summary>
    /// TLS port (RFC 8656 §4.1 default 5349; 443 works too). Unset: 5349, or a free port when
    /// <see cref="ListeningPort"/> is 0. 0 picks a free port.
    /// </summary>
    public int? TlsListeningPort { get; set; }

    /// <summary>PEM certificate for TLS, optionally followed by its chain; unset: a self-signed one is generated at start.</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>How often the --cert/--pkey files are checked for a new certificate (0: never).</summary>
    public int TlsReloadIntervalSeconds { get; set; } = 5;

    /// <summary>A TLS handshake that takes longer than this closes the connection.</summary>
    public int TlsHandshakeTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// TLS cipher suites, IANA names separated by ':' or ','; empty: forward-secret AEAD suites only
    /// (<see cref="Turn.Transports.TlsCipherSuites.Default"/>); "system": the platform's choice.
    /// </summary>
    public string? TlsCipherSuites { get; set; }

    /// <summary>The TLS port in effect (see <see cref="TlsListeningPort"/>).</summary>
    public int EffectiveTlsPort => TlsListeningPort ?? (ListeningPort == 0 ? 0 : 5349);

    /// <summary>TURN over DTLS 1.2 (RFC 8656 §5) on UDP <see cref="DtlsListeningPort"/>, with the TLS certificate.</summary>
    public bool EnableDtls { get; set; } = true;

    /// <summary>DTLS (UDP) port; unset: the TLS port (<see cref="EffectiveTlsPort"/>, so 5349, or a free one). 0 picks a free port.</summary>
    public int? DtlsListeningPort { get; set; }

    /// <summary>The DTLS port in effect (see <see cref="DtlsListeningPort"/>).</summary>
    public int EffectiveDtlsPort => DtlsListeningPort ?? EffectiveTlsPort;

    /// <summary>DTLS associations open at once (handshaking or established); each has a thread of its own.</summary>
    public int DtlsMaxAssociations { get; set; } = Turn.Transports.Dtls.DtlsLimits.DefaultMaxAssociations;

    /// <summary>A DTLS association without an allocation on which nothing arrives for this long is closed.</summary>
    public int DtlsIdleTimeoutSeconds { get; set; } = Turn.Transports.Dtls.DtlsLimits.DefaultIdleTimeoutSeconds;

    /// <summary>RFC 8489 §14.14 SOFTWARE of every response; empty leaves the attribute out.</summary>
    public string? Software { get; set; } = DefaultSoftware;

    /// <summary>
    /// coturn --fingerprint: FINGERPRINT (RFC 8489 §14.7) on the Data indications sent to clients as well. Responses to
    /// RFC 5389+ requests always carry it.
    /// </summary>
    public bool Fingerprint { get; set; }

    /// <summary>
    /// UDP sockets per listening address, each with its own receive loop, sharing the port through SO_REUSEPORT
    /// (default: one per processor).
    /// </summary>
    public int UdpReceiveLoops { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// How UDP sockets are served: "auto" (batched where supported, else sockets), "batched" (recvmmsg/sendmmsg and
    /// epoll on threads of our own; 64-bit Linux), or "sockets" (the portable .NET socket engine).
    /// </summary>
    public string UdpIo { get; set; } = "auto";

    /// <summary>Datagrams per recvmmsg/sendmmsg call in batched mode.</summary>
    public int UdpBatchSize { get; set; } = Turn.Transports.UdpBatching.DefaultBatchSize;

    /// <summary>
    /// In batched mode, send runs of datagrams of one size to one destination as one UDP GSO message (Linux cuts
    /// it into the same datagrams late, for much less work per datagram); off sends each datagram on its own.
    /// </summary>
    public bool UdpGso { get; set; } = true;

    /// <summary>Threads serving relay sockets in batched mode (default: one per processor).</summary>
    public int RelayThreads { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Bearer token of GET /credentials on the admin listener, which mints TURN REST API credentials with the first
    /// shared secret; unset (the default): no such endpoint.
    /// </summary>
    public string? CredentialsToken { get; set; }

    /// <summary>Host name in the URLs GET /credentials hands out; unset: the first --external-ip, else the realm.</summary>
    public string? CredentialsHost { get; set; }

    /// <summary>Relay-side call quality: time the ICE checks seen in relayed data (turn_check_rtt_seconds).</summary>
    public bool CallQuality { get; set; } = true;

    /// <summary>How often an RTP stream's loss and jitter are reported (turn_rtp_loss_ratio, turn_rtp_jitter_seconds).</summary>
    public int CallQualityIntervalSeconds { get; set; } = 5;

    /// <summary>How often appsettings.json and the -c file are checked for changes, which reload the configuration (0: never).</summary>
    public int ConfigReloadIntervalSeconds { get; set; } = 5;

    /// <summary>Longest a graceful drain (SIGTERM, POST /drain) waits for the last allocation before the server stops.</summary>
    public int DrainTimeoutSeconds { get; set; } = 600;

    /// <summary>IP:PORT of servers that clients get sent to (300 Try Alternate) while this one drains.</summary>
    public IList<string> AlternateServers { get; } = [];

    /// <summary>Domain name of the alternate servers' certificate (ALTERNATE-DOMAIN over TLS and DTLS).</summary>
    public string? AlternateDomain { get; set; }

    /// <summary>
    /// coturn's alternate-server behaviour: every Allocate is answered 300 Try Alternate with the next alternate server
    /// (a front server spreading clients over others), not only while draining.
    /// </summary>
    public bool RedirectAllAllocations { get; set; }

    /// <summary>Log lines on standard output: "simple" (one plain line per event) or "json" (one JSON object per line).</summary>
    public string LogFormat { get; set; } = "simple";

    /// <summary>The admin HTTP listener (Prometheus /metrics, /healthz, /readyz); on by default, on loopback.</summary>
    public bool EnableAdmin { get; set; } = true;

    /// <summary>
    /// ADDRESS:PORT of the admin listener. Unset: 127.0.0.1:9641, or a free port on 127.0.0.1 when
    /// <see cref="ListeningPort"/> is 0.
    /// </summary>
    public string? AdminListen { get; set; }

    /// <summary>The admin listener's port, over the one in <see cref="AdminListen"/> (coturn's --prometheus-port).</summary>
    public int? AdminPort { get; set; }

    public const int DefaultAdminPort = 9641;

    /// <summary>The admin listener in effect; null when it is off or <see cref="AdminListen"/> does not parse (validation says so).</summary>
    public IPEndPoint? EffectiveAdminEndPoint
    {
        get
        {
            if (!EnableAdmin)
            {
                return null;
            }

            IPEndPoint? endPoint = AdminListen is null
                ? new IPEndPoint(IPAddress.Loopback, ListeningPort == 0 ? 0 : DefaultAdminPort)
                : IPEndPoint.TryParse(AdminListen, out IPEndPoint? parsed) && AdminListen.Contains(':', StringComparison.Ordinal) ? parsed : null;
            if (endPoint is not null && AdminPort is { } port)
            {
                endPoint.Port = port;
            }

            return endPoint;
        }
    }

    /// <summary>A TCP connection on which nothing arrives for this long is closed.</summary>
    public int TcpIdleTimeoutSeconds { get; set; } = 300;

    /// <summary>Client connections (TCP and TLS together) open at once at most; more are closed on arrival.</summary>
    public int MaxConnections { get; set; } = 10_000;

    // ---- TURN relay (RFC 8656) ----

    /// <summary>Addresses relay sockets bind to; empty means the first concrete listening IPv4 address, else the host's.</summary>
    public IList<string> RelayIps { get; } = [];

    /// <summary>Lowest relay port (RFC 8656 §7.2 SHOULD 49152-65535).</summary>
    public int MinPort { get; set; } = 49152;

    /// <summary>Highest relay port.</summary>
    public int MaxPort { get; set; } = 65535;

    /// <summary>
    /// "PUBLIC" or "PUBLIC/PRIVATE": the relayed address is told to clients as PUBLIC (cloud 1:1 NAT). Without
    /// /PRIVATE it applies to the first relay address.
    /// </summary>
    public IList<string> ExternalIps { get; } = [];

    /// <summary>Longest allocation lifetime granted, seconds (RFC 8656 §7.2: RECOMMENDED at most 3600).</summary>
    public int MaxAllocateLifetimeSeconds { get; set; } = 3600;

    /// <summary>Allocations one username may hold (0: no limit).</summary>
    public int UserQuota { get; set; }

    /// <summary>
    /// Requests failing authentication (401, 438, or 400 on their credentials) answered per second per source IP; beyond
    /// it, after a burst of <see cref="UnauthenticatedBurst"/>, they are dropped unanswered. 0: no limit.
    /// </summary>
    public int UnauthenticatedRate { get; set; } = 100;

    /// <summary>The burst of <see cref="UnauthenticatedRate"/> an address has after a quiet time.</summary>
    public int UnauthenticatedBurst { get; set; } = 400;

    /// <summary>Allocations the server may hold (0: no limit).</summary>
    public int TotalQuota { get; set; }

    /// <summary>Bytes per second one allocation may relay in each direction; over it datagrams are dropped (0: no limit).</summary>
    public long MaxBps { get; set; }

    /// <summary>Also accept RFC 5766 channel numbers 0x5000-0x7FFF, which RFC 8656 reserves (older clients use them).</summary>
    public bool LegacyChannelNumbers { get; set; }

    /// <summary>Permissions one allocation may hold.</summary>
    public int MaxPermissionsPerAllocation { get; set; } = 256;

    /// <summary>Channels one allocation may bind (at most 4096 exist).</summary>
    public int MaxChannelsPerAllocation { get; set; } = 1024;

    // ---- credentials (RFC 8489 §9.2, TURN REST API) ----

    /// <summary>REALM of the long-term credential mechanism.</summary>
    public string Realm { get; set; } = "turn.local";

    /// <summary>coturn's --lt-cred-mech; long-term credentials are always required for TURN, so this only documents intent.</summary>
    public bool LongTermCredentials { get; set; } = true;

    /// <summary>coturn's --use-auth-secret: accept TURN REST API credentials (needs <see cref="StaticAuthSecrets"/>).</summary>
    public bool UseAuthSecret { get; set; }

    /// <summary>Long-term users as "name:password"; only derived keys are kept once loaded.</summary>
    public IList<string> Users { get; } = [];

    /// <summary>TURN REST API shared secrets; every one is tried, for rotation.</summary>
    public IList<string> StaticAuthSecrets { get; } = [];

    /// <summary>How long a nonce stays valid before 438 Stale Nonce, seconds.</summary>
    public int StaleNonceSeconds { get; set; } = 600;

    // ---- peer address policy (RFC 8656 §21) ----

    /// <summary>Allow peers on loopback addresses (tests and local development only).</summary>
    public bool AllowLoopbackPeers { get; set; }

    /// <summary>Peer addresses allowed in spite of the default denials: "IP", "IP-IP" or CIDR.</summary>
    public IList<string> AllowedPeerRanges { get; } = [];

    /// <summary>Peer addresses denied on top of the defaults: "IP", "IP-IP" or CIDR.</summary>
    public IList<string> DeniedPeerRanges { get; } = [];
}

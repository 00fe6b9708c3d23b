using Turn.Stun;

namespace Turn.Relay;

/// <summary>What the protocol engine needs from configuration; a frozen snapshot taken at start.</summary>
public sealed record TurnEngineOptions
{
    /// <summary>RFC 8656 §6: lifetime of an allocation when the client asks for none (and the floor of what it may ask).</summary>
    public static readonly TimeSpan DefaultAllocationLifetime = TimeSpan.FromSeconds(600);

    /// <summary>RFC 8656 §9: a permission lasts 300 s (MUST).</summary>
    public static readonly TimeSpan PermissionLifetime = TimeSpan.FromSeconds(300);

    /// <summary>RFC 8656 §12: a channel binding lasts 10 minutes.</summary>
    public static readonly TimeSpan ChannelLifetime = TimeSpan.FromSeconds(600);

    /// <summary>RFC 8489 §14.14: the SOFTWARE attribute of responses; null or empty leaves it out.</summary>
    public string? Software { get; init; }

    /// <summary>RFC 8656 §7.2: the longest lifetime granted (RECOMMENDED at most 3600 s).</summary>
    public TimeSpan MaxAllocationLifetime { get; init; } = TimeSpan.FromSeconds(3600);

    /// <summary>RFC 8656 §5: allocations one username may hold at once (0: no limit); more get 486.</summary>
    public int UserQuota { get; init; }

    /// <summary>Allocations the whole server may hold at once (0: no limit); more get 486.</summary>
    public int TotalQuota { get; init; }

    /// <summary>
    /// Bytes per second one allocation may relay in each direction (coturn --max-bps; 0: no limit). Datagrams over the
    /// budget are dropped and counted.
    /// </summary>
    public long MaxBytesPerSecond { get; init; }

    /// <summary>
    /// Accept the RFC 5766 channel numbers 0x5000-0x7FFF in ChannelBind and ChannelData, which RFC 8656 §12 reserves
    /// but coturn's clients (turnutils_uclient) still pick from. Off by default.
    /// </summary>
    public bool AllowLegacyChannelNumbers { get; init; }

    /// <summary>
    /// FINGERPRINT (RFC 8489 §7, §14.7) on Data indications to clients, for clients that demultiplex STUN from other
    /// traffic by it (coturn --fingerprint). Off by default: RFC 8656 does not ask for it, and it costs a CRC-32 per packet.
    /// </summary>
    public bool FingerprintDataIndications { get; init; }

    /// <summary>RFC 6062: peer connections (pending, connecting and bound) one TCP allocation may hold; beyond it 508, or closed.</summary>
    public int MaxTcpConnectionsPerAllocation { get; init; } = 64;

    /// <summary>Permissions one allocation may hold (RFC 8656 §10.2: beyond it, 508).</summary>
    public int MaxPermissionsPerAllocation { get; init; } = 256;

    /// <summary>
    /// Requests failing authentication (401, 438, 400 on credentials) answered per second per source IP address; beyond
    /// it (after a burst of <see cref="UnauthenticatedBurst"/>) they are dropped unanswered. 0: no limit.
    /// </summary>
    public int UnauthenticatedRate { get; init; }

    /// <summary>The burst <see cref="UnauthenticatedRate"/> allows an address after a quiet time.</summary>
    public int UnauthenticatedBurst { get; init; }

    /// <summary>Channels one allocation may bind (RFC 8656 §12.2: beyond it, 508); at most 4096 exist.</summary>
    public int MaxChannelsPerAllocation { get; init; } = 1024;

    /// <summary>
    /// Public addresses to show in XOR-RELAYED-ADDRESS for relay addresses behind 1:1 NAT (coturn --external-ip):
    /// key = the relay socket's local IP, value = the public IP. Ports are kept.
    /// </summary>
    public IReadOnlyDictionary<TransportAddress, TransportAddress> ExternalAddresses { get; init; } =
        new Dictionary<TransportAddress, TransportAddress>();

    /// <summary>
    /// Servers to send new clients to while this one drains (RFC 8489 §10: 300 Try Alternate with ALTERNATE-SERVER,
    /// taken in turn); empty: new Allocate requests get 508 while draining.
    /// </summary>
    public IReadOnlyList<TransportAddress> AlternateServers { get; init; } = [];

    /// <summary>Every Allocate goes to an alternate server (300), draining or not; needs <see cref="AlternateServers"/>.</summary>
    public bool RedirectAllAllocations { get; init; }

    /// <summary>
    /// RFC 8489 §14.16: the alternate servers' domain name, sent as ALTERNATE-DOMAIN with a 300 over TLS and DTLS so the
    /// client checks the alternate's certificate against it; null leaves it out.
    /// </summary>
    public string? AlternateDomain { get; init; }

    /// <summary>How often relay-side call quality reports an RTP stream's loss and jitter.</summary>
    public TimeSpan CallQualityInterval { get; init; } = TimeSpan.FromSeconds(5);
}

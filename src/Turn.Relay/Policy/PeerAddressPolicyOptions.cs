using System.Net;

namespace Turn.Relay.Policy;

/// <summary>
/// Configuration of <see cref="PeerAddressPolicy"/>: which peer addresses allocations may relay to (RFC 8656 §21.2.2,
/// §21.4; checklist items 93, 97, 98, 102, 144). The defaults relay to public unicast addresses only. The policy copies
/// these values when it is built; changing the options afterwards does not change a built policy.
/// </summary>
public sealed class PeerAddressPolicyOptions
{
    /// <summary>
    /// Relay to 127.0.0.0/8 and ::1 (and their IPv4-mapped and NAT64 forms), as coturn's --allow-loopback-peers.
    /// This opens every port of the host's loopback, the server's own listeners included: for tests and development.
    /// Default false.
    /// </summary>
    public bool AllowLoopbackPeers { get; set; }

    /// <summary>
    /// Relay to RFC 1918 (10/8, 172.16/12, 192.168/16), unique local fc00::/7 and site-local fec0::/10 addresses, for a
    /// server that serves one private network. Does not unlock fd00:ec2::254 (cloud metadata). Default false.
    /// </summary>
    public bool AllowPrivatePeers { get; set; }

    /// <summary>
    /// Addresses relayed to even though their category is denied by default ("IP", "IP-IP" or CIDR, see
    /// <see cref="IPAddressRange"/>; coturn's --allowed-peer-ip). Wins over every category default, except that
    /// <see cref="PeerAddressCategory.ServerOwn"/> and <see cref="PeerAddressCategory.CloudMetadata"/> addresses are
    /// only unlocked by an entry naming that single address. Loses to <see cref="DeniedPeerRanges"/>.
    /// </summary>
    public IList<string> AllowedPeerRanges { get; init; } = [];

    /// <summary>
    /// Addresses never relayed to ("IP", "IP-IP" or CIDR; coturn's --denied-peer-ip). Wins over everything, including
    /// <see cref="AllowedPeerRanges"/> and the flags. An IPv4 entry also denies the IPv6 forms that embed or tunnel to
    /// that IPv4 address.
    /// </summary>
    public IList<string> DeniedPeerRanges { get; init; } = [];

    /// <summary>
    /// The server's own addresses: every address it listens on and relays from, and the public addresses those are
    /// mapped to (coturn --external-ip). Peers on these addresses are <see cref="PeerAddressCategory.ServerOwn"/> and
    /// denied (RFC 8656 §21.1.7), except on ports of the relay range below. Give concrete addresses: a wildcard
    /// (0.0.0.0, ::) matches nothing, as those are denied as unspecified anyway. Loopback entries are judged by
    /// <see cref="AllowLoopbackPeers"/>.
    /// </summary>
    public IList<IPAddress> ServerAddresses { get; init; } = [];

    /// <summary>
    /// First port of the relay port range (coturn --min-port), or 0 for none. A peer on one of the
    /// <see cref="ServerAddresses"/> with a port in [<see cref="RelayMinPort"/>, <see cref="RelayMaxPort"/>] is another
    /// allocation's relayed address, which is how two clients of one TURN server reach each other (ICE relay-relay
    /// pairs); it is then judged by its address category, not as <see cref="PeerAddressCategory.ServerOwn"/>. Without
    /// a range, the whole of each server address is denied and relay-relay pairs on this server fail. The listening
    /// ports must lie outside the range.
    /// </summary>
    public int RelayMinPort { get; set; }

    /// <summary>Last port of the relay port range (coturn --max-port), or 0 for none. See <see cref="RelayMinPort"/>.</summary>
    public int RelayMaxPort { get; set; }
}

namespace Turn.Relay.Policy;

/// <summary>
/// What kind of address a TURN peer address is, for the peer address policy (RFC 8656 §21.2.2, §21.1.7, §21.4;
/// shared/spec checklist items 97, 98). IPv6 forms that embed an IPv4 address (IPv4-mapped, IPv4-translated,
/// IPv4-compatible, NAT64) take the category of the IPv4 address inside (except that a public IPv4 address inside the
/// obsolete compatible and translated forms is <see cref="Reserved"/>); tunnel forms (Teredo, 6to4) are
/// <see cref="Tunneled"/> whatever they embed.
/// </summary>
/// <remarks>
/// The values are bounded and stable, so they are fit for log fields and metric labels. The default decision for
/// each category is in <see cref="PeerAddressPolicy"/>.
/// </remarks>
public enum PeerAddressCategory
{
    /// <summary>Globally routable unicast: the only category relayed to by default.</summary>
    Public = 0,

    /// <summary>0.0.0.0/8 "this network" (RFC 791, RFC 1122 §3.2.1.3) and :: (RFC 4291 §2.5.2). Always denied.</summary>
    Unspecified,

    /// <summary>127.0.0.0/8 (RFC 1122 §3.2.1.3) and ::1 (RFC 4291 §2.5.3). Denied unless allowed.</summary>
    Loopback,

    /// <summary>169.254.0.0/16 (RFC 3927) and fe80::/10 (RFC 4291 §2.5.6). Always denied.</summary>
    LinkLocal,

    /// <summary>
    /// Cloud instance metadata services, the classic SSRF target through a relay (coturn CVE-2020-26262 and
    /// follow-ups): 169.254.169.254 (AWS, GCP, Azure, OpenStack, Oracle...), fd00:ec2::254 (AWS IPv6 IMDS),
    /// 100.100.100.200 (Alibaba Cloud), 168.63.129.16 (Azure WireServer). Always denied; a broad allowed range does
    /// not unlock them, only an allowed entry naming the single address does.
    /// </summary>
    CloudMetadata,

    /// <summary>224.0.0.0/4 (RFC 5771) and ff00::/8 (RFC 4291 §2.7). Always denied.</summary>
    Multicast,

    /// <summary>
    /// Never a real unicast peer: 240.0.0.0/4 reserved (RFC 1112 §4) with the limited broadcast 255.255.255.255
    /// (RFC 919, RFC 8190), 192.0.0.0/24 IETF protocol assignments (RFC 6890 §2.2.2), 2001::/23 IETF protocol
    /// assignments outside Teredo and benchmarking (RFC 2928, RFC 6890), and every IPv6 address outside 2000::/3 that
    /// no other category claims (IANA "Reserved by IETF", e.g. the rest of ::/8, 100::/64 discard-only RFC 6666,
    /// 5f00::/16 SRv6 SIDs RFC 9602), and the obsolete IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96)
    /// forms of public IPv4 addresses. Always denied.
    /// </summary>
    Reserved,

    /// <summary>
    /// Tunnels: Teredo 2001::/32 (RFC 4380) and 6to4 2002::/16 (RFC 3056), which RFC 8656 §21.4 forbids in Allocate
    /// and ChannelBind (tunnel amplification), plus the deprecated 6to4 relay anycast 192.88.99.0/24 (RFC 3068,
    /// RFC 7526). Always denied.
    /// </summary>
    Tunneled,

    /// <summary>
    /// One of the server's own addresses (listening or relayed) outside the relay port range: relaying there enables
    /// loops and reflection (RFC 8656 §21.1.7; checklist item 134). Always denied; only an allowed entry naming the
    /// single address unlocks it.
    /// </summary>
    ServerOwn,

    /// <summary>
    /// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918), fc00::/7 unique local (RFC 4193) and the deprecated
    /// site-local fec0::/10 (RFC 3879). Denied by default; configurable.
    /// </summary>
    Private,

    /// <summary>100.64.0.0/10 shared address space (RFC 6598). Denied by default; configurable.</summary>
    CarrierGradeNat,

    /// <summary>198.18.0.0/15 (RFC 2544, RFC 6815) and 2001:2::/48 (RFC 5180). Denied by default; configurable.</summary>
    Benchmarking,

    /// <summary>
    /// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737), 2001:db8::/32 (RFC 3849) and 3fff::/20 (RFC 9637):
    /// not globally reachable (RFC 6890 "Global: False"), so never a real peer, but some networks route them
    /// internally. Denied by default; configurable.
    /// </summary>
    Documentation,
}

using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// What a relay endpoint calls for each datagram from a peer (RFC 8656 §11.3, §12.5): the engine checks the
/// permission and frames the payload for the client in place, as ChannelData or as a Data indication.
/// </summary>
public interface IPeerDataHandler
{
    /// <summary>
    /// <paramref name="buffer"/> holds the payload at offset <see cref="PeerDataFraming.Headroom"/>, with
    /// <see cref="PeerDataFraming.Tailroom"/> spare bytes after it. Returns the length of the message to send to the
    /// client starting at <paramref name="start"/>, or 0 to drop the datagram.
    /// </summary>
    int HandlePeerData(Allocation allocation, in TransportAddress peer, Span<byte> buffer, int payloadLength, out int start);

    /// <summary>
    /// RFC 8656 §11.5: an ICMP error about a datagram the relayed address sent to <paramref name="peer"/> (the inner
    /// destination; ICMPv6 when <paramref name="icmpv6"/>). Writes the Data indication with the ICMP attribute for the
    /// client at the start of <paramref name="buffer"/> (at least <see cref="PeerDataFraming.IcmpIndicationLength"/>
    /// bytes) and returns its length, or 0 to drop the report.
    /// </summary>
    int HandlePeerIcmp(Allocation allocation, in TransportAddress peer, bool icmpv6, byte type, byte code, uint info, Span<byte> buffer);
}

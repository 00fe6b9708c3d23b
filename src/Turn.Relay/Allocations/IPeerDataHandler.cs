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
}

namespace Turn.Relay.Allocations;

/// <summary>Room a relay endpoint leaves around a peer datagram so the client framing is written in place, without a copy.</summary>
public static class PeerDataFraming
{
    /// <summary>A Data indication header: 20-byte STUN header, XOR-PEER-ADDRESS for IPv6 (24), DATA header (4).</summary>
    public const int Headroom = 48;

    /// <summary>
    /// Padding of DATA or of ChannelData on a stream to a multiple of 4 (RFC 8489 §14, RFC 8656 §12.5), then a FINGERPRINT
    /// attribute (8) when Data indications carry one.
    /// </summary>
    public const int Tailroom = 3 + 8;

    /// <summary>
    /// The longest Data indication carrying an ICMP attribute (RFC 8656 §11.5): header, XOR-PEER-ADDRESS for IPv6, ICMP
    /// and FINGERPRINT.
    /// </summary>
    public const int IcmpIndicationLength = 20 + 24 + 12 + 8;
}

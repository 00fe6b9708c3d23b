namespace Turn.Stun;

/// <summary>What the first byte of a packet says it is (RFC 8656 §12, RFC 7983 §7).</summary>
public enum PacketKind
{
    /// <summary>Neither STUN nor TURN ChannelData; dropped.</summary>
    Other = 0,
    /// <summary>First byte 0-3.</summary>
    Stun,
    /// <summary>First byte 64-79: channel numbers 0x4000-0x4FFF.</summary>
    ChannelData,
}

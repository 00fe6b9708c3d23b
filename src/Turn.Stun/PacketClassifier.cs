namespace Turn.Stun;

/// <summary>
/// Demultiplexes by the first byte (RFC 8656 §12, RFC 7983 §7): 0-3 is STUN, 64-79 a TURN channel. Channel numbers
/// 0x5000-0xFFFF are reserved (RFC 8656 §12) and everything else belongs to no protocol this server speaks.
/// </summary>
public static class PacketClassifier
{
    public static PacketKind Classify(byte firstByte) => firstByte switch
    {
        <= 3 => PacketKind.Stun,
        >= 0x40 and <= 0x4F => PacketKind.ChannelData,
        _ => PacketKind.Other,
    };

    public static PacketKind Classify(ReadOnlySpan<byte> packet) => packet.IsEmpty ? PacketKind.Other : Classify(packet[0]);

    /// <summary>With <paramref name="allowLegacyChannels"/>, first bytes 80-127 (RFC 5766 channels 0x5000-0x7FFF) are ChannelData too.</summary>
    public static PacketKind Classify(byte firstByte, bool allowLegacyChannels) =>
        allowLegacyChannels && firstByte is >= 0x50 and <= 0x7F ? PacketKind.ChannelData : Classify(firstByte);
}

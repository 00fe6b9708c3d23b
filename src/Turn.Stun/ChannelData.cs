using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// The ChannelData message of RFC 8656 §12.4: a 2-byte channel number (0x4000-0x4FFF), a 2-byte length of the
/// application data, then the data; padded to a multiple of 4 over TCP/TLS (§12.5), optionally over UDP.
/// </summary>
public static class ChannelData
{
    public const int HeaderLength = 4;
    public const ushort MinChannel = 0x4000;
    public const ushort MaxChannel = 0x4FFF;

    /// <summary>RFC 5766 §11 allowed 0x4000-0x7FFF; RFC 8656 §12 reserves 0x5000-0x7FFF, but older clients still use it.</summary>
    public const ushort MaxLegacyChannel = 0x7FFF;

    /// <summary>RFC 8656 §12: only 0x4000-0x4FFF; RFC 5766's 0x5000-0x7FFF is reserved now.</summary>
    public static bool IsValidChannel(ushort channel) => channel is >= MinChannel and <= MaxChannel;

    /// <summary>
    /// <see cref="IsValidChannel(ushort)"/>, or with <paramref name="allowLegacy"/> the RFC 5766 range 0x4000-0x7FFF
    /// that coturn's clients still pick from.
    /// </summary>
    public static bool IsValidChannel(ushort channel, bool allowLegacy) =>
        allowLegacy ? channel is >= MinChannel and <= MaxLegacyChannel : IsValidChannel(channel);

    /// <summary>
    /// RFC 8656 §12.6: parses a ChannelData datagram. A datagram shorter than 4 + Length is discarded; extra bytes
    /// after the data are padding and ignored.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, out ushort channel, out ReadOnlySpan<byte> data) =>
        TryParse(packet, allowLegacy: false, out channel, out data);

    /// <summary>As <see cref="TryParse(ReadOnlySpan{byte}, out ushort, out ReadOnlySpan{byte})"/>, optionally with RFC 5766 channel numbers.</summary>
    public static bool TryParse(ReadOnlySpan<byte> packet, bool allowLegacy, out ushort channel, out ReadOnlySpan<byte> data)
    {
        channel = 0;
        data = default;
        if (packet.Length < HeaderLength)
        {
            return false;
        }

        channel = BinaryPrimitives.ReadUInt16BigEndian(packet);
        int length = BinaryPrimitives.ReadUInt16BigEndian(packet[2..]);
        if (!IsValidChannel(channel, allowLegacy) || length > packet.Length - HeaderLength)
        {
            return false;
        }

        data = packet.Slice(HeaderLength, length);
        return true;
    }

    public static void WriteHeader(Span<byte> destination, ushort channel, int dataLength)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, channel);
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], checked((ushort)dataLength));
    }

    /// <summary>RFC 8656 §12.5: bytes one ChannelData message occupies on a stream, padding included.</summary>
    public static int GetStreamFrameLength(int dataLength) => HeaderLength + StunMessageReader.Pad4(dataLength);
}

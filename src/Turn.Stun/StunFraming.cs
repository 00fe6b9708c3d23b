using System.Buffers;
using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>The outcome of looking for the next message in a TCP/TLS byte stream.</summary>
public enum FrameStatus
{
    /// <summary>A whole frame is in the buffer.</summary>
    Complete,
    /// <summary>More bytes are needed; nothing is wrong yet.</summary>
    Incomplete,
    /// <summary>The stream cannot be framed any more (first byte neither STUN nor ChannelData, or a bad STUN length).</summary>
    Invalid,
}

/// <summary>
/// Cuts a stream into STUN messages (20 + Length, RFC 8489 §6.2.2) and ChannelData messages (4 + Length rounded up
/// to 4, RFC 8656 §12.5). Framing is separate from parsing: a complete frame still goes through
/// <see cref="StunMessageReader.TryParse"/> or <see cref="ChannelData.TryParse"/>.
/// </summary>
public static class StunFraming
{
    /// <summary>
    /// Looks at the start of <paramref name="buffer"/>. On <see cref="FrameStatus.Complete"/>, the first
    /// <paramref name="frameLength"/> bytes are one message of <paramref name="kind"/>.
    /// </summary>
    public static FrameStatus TryReadFrame(in ReadOnlySequence<byte> buffer, out PacketKind kind, out int frameLength) =>
        TryReadFrame(buffer, allowLegacyChannels: false, out kind, out frameLength);

    /// <summary>As above; <paramref name="allowLegacyChannels"/> frames RFC 5766 channels 0x5000-0x7FFF as ChannelData too.</summary>
    public static FrameStatus TryReadFrame(in ReadOnlySequence<byte> buffer, bool allowLegacyChannels, out PacketKind kind, out int frameLength)
    {
        kind = PacketKind.Other;
        frameLength = 0;
        if (buffer.IsEmpty)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> prefix = stackalloc byte[4];
        byte first = buffer.FirstSpan.Length > 0 ? buffer.FirstSpan[0] : FirstByte(buffer);
        kind = PacketClassifier.Classify(first, allowLegacyChannels);
        if (kind == PacketKind.Other)
        {
            return FrameStatus.Invalid;
        }

        if (buffer.Length < 4)
        {
            return FrameStatus.Incomplete;
        }

        buffer.Slice(0, 4).CopyTo(prefix);
        int length = BinaryPrimitives.ReadUInt16BigEndian(prefix[2..]);
        if (kind == PacketKind.Stun)
        {
            // RFC 8489 §5: Length counts attribute bytes only and is always a multiple of 4.
            if ((length & 3) != 0)
            {
                return FrameStatus.Invalid;
            }

            frameLength = StunConstants.HeaderLength + length;
        }
        else
        {
            frameLength = ChannelData.GetStreamFrameLength(length);
        }

        return buffer.Length >= frameLength ? FrameStatus.Complete : FrameStatus.Incomplete;
    }

    private static byte FirstByte(in ReadOnlySequence<byte> buffer)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            if (!segment.IsEmpty)
            {
                return segment.Span[0];
            }
        }

        return 0;
    }
}

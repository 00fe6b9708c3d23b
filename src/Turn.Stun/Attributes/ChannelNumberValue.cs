using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>CHANNEL-NUMBER (RFC 8656 §18.1): the 16-bit number and 16 RFFU bits, ignored on receipt.</summary>
public static class ChannelNumberValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out ushort channel)
    {
        channel = value.Length == 4 ? BinaryPrimitives.ReadUInt16BigEndian(value) : (ushort)0;
        return value.Length == 4;
    }

    public static bool AddChannelNumber(this ref StunMessageWriter writer, ushort channel)
    {
        if (!writer.TryAddAttribute(StunAttributeType.ChannelNumber, 4, out Span<byte> value))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(value, channel);
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], 0);
        return true;
    }
}

using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>ICMP (RFC 8656 §18.13): 16 reserved bits, the ICMP type and code, and 32 bits of error data.</summary>
public static class IcmpValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out byte icmpType, out byte icmpCode, out uint errorData)
    {
        bool ok = value.Length == 8;
        icmpType = ok ? value[2] : (byte)0;
        icmpCode = ok ? value[3] : (byte)0;
        errorData = ok ? BinaryPrimitives.ReadUInt32BigEndian(value[4..]) : 0;
        return ok;
    }

    public static bool AddIcmp(this ref StunMessageWriter writer, byte icmpType, byte icmpCode, uint errorData)
    {
        if (!writer.TryAddAttribute(StunAttributeType.Icmp, 8, out Span<byte> value))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt16BigEndian(value, 0);
        value[2] = icmpType;
        value[3] = icmpCode;
        BinaryPrimitives.WriteUInt32BigEndian(value[4..], errorData);
        return true;
    }
}

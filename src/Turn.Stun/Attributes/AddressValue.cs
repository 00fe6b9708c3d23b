using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// MAPPED-ADDRESS and ALTERNATE-SERVER values (RFC 8489 §14.1, §14.15): a zero byte, the family, the port and the
/// address in network order, 8 bytes for IPv4 and 20 for IPv6.
/// </summary>
public static class AddressValue
{
    public static int GetLength(TransportAddress address) => 4 + address.AddressLength;

    /// <summary>RFC 8489 §14.1: the first byte MUST be ignored by receivers; the length must match the family.</summary>
    public static bool TryRead(ReadOnlySpan<byte> value, out TransportAddress address)
    {
        address = default;
        if (value.Length < 4)
        {
            return false;
        }

        ushort port = BinaryPrimitives.ReadUInt16BigEndian(value[2..]);
        switch ((StunAddressFamily)value[1])
        {
            case StunAddressFamily.IPv4 when value.Length == 8:
                address = TransportAddress.FromIPv4(value[4..], port);
                return true;
            case StunAddressFamily.IPv6 when value.Length == 20:
                address = TransportAddress.FromIPv6(value[4..], port);
                return true;
            default:
                return false;
        }
    }

    public static void Write(Span<byte> value, TransportAddress address)
    {
        value[0] = 0;
        value[1] = (byte)address.Family;
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], address.Port);
        address.WriteAddressBytes(value[4..]);
    }
}

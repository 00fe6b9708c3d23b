using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS values (RFC 8489 §14.2, RFC 8656 §18.3, §18.5): the
/// port XOR the top 16 bits of the magic cookie; an IPv4 address XOR the magic cookie; an IPv6 address XOR the
/// magic cookie followed by the 96-bit transaction id.
/// </summary>
public static class XorAddressValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, TransactionId transactionId, out TransportAddress address)
    {
        Span<byte> id = stackalloc byte[TransactionId.Length];
        transactionId.WriteTo(id);
        return TryRead(value, id, out address);
    }

    public static bool TryRead(ReadOnlySpan<byte> value, ReadOnlySpan<byte> transactionId, out TransportAddress address)
    {
        if (!AddressValue.TryRead(value, out TransportAddress masked))
        {
            address = default;
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        int length = masked.WriteAddressBytes(bytes);
        ApplyMask(bytes[..length], transactionId);
        ushort port = (ushort)(masked.Port ^ (StunConstants.MagicCookie >> 16));
        address = length == 4 ? TransportAddress.FromIPv4(bytes, port) : TransportAddress.FromIPv6(bytes, port);
        return true;
    }

    public static void Write(Span<byte> value, TransportAddress address, ReadOnlySpan<byte> transactionId)
    {
        value[0] = 0;
        value[1] = (byte)address.Family;
        BinaryPrimitives.WriteUInt16BigEndian(value[2..], (ushort)(address.Port ^ (StunConstants.MagicCookie >> 16)));
        Span<byte> bytes = value[4..];
        int length = address.WriteAddressBytes(bytes);
        ApplyMask(bytes[..length], transactionId);
    }

    private static void ApplyMask(Span<byte> address, ReadOnlySpan<byte> transactionId)
    {
        Span<byte> mask = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(mask, StunConstants.MagicCookie);
        transactionId.CopyTo(mask[4..]);
        for (int i = 0; i < address.Length; i++)
        {
            address[i] ^= mask[i];
        }
    }
}

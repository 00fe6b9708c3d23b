using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>RESERVATION-TOKEN (RFC 8656 §18.10): an opaque 8-byte token.</summary>
public static class ReservationTokenValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out ulong token)
    {
        token = value.Length == 8 ? BinaryPrimitives.ReadUInt64BigEndian(value) : 0;
        return value.Length == 8;
    }

    public static bool AddReservationToken(this ref StunMessageWriter writer, ulong token)
    {
        if (!writer.TryAddAttribute(StunAttributeType.ReservationToken, 8, out Span<byte> value))
        {
            return false;
        }

        BinaryPrimitives.WriteUInt64BigEndian(value, token);
        return true;
    }
}

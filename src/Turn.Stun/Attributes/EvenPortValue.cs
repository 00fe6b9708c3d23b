namespace Turn.Stun;

/// <summary>EVEN-PORT (RFC 8656 §18.7): one byte whose top bit R asks to reserve the next port; the rest is RFFU.</summary>
public static class EvenPortValue
{
    private const byte ReserveBit = 0x80;

    public static bool TryRead(ReadOnlySpan<byte> value, out bool reserveNextPort)
    {
        reserveNextPort = value.Length == 1 && (value[0] & ReserveBit) != 0;
        return value.Length == 1;
    }

    public static bool AddEvenPort(this ref StunMessageWriter writer, bool reserveNextPort)
    {
        if (!writer.TryAddAttribute(StunAttributeType.EvenPort, 1, out Span<byte> value))
        {
            return false;
        }

        value[0] = reserveNextPort ? ReserveBit : (byte)0;
        return true;
    }
}

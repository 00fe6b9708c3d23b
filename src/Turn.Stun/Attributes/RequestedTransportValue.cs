namespace Turn.Stun;

/// <summary>REQUESTED-TRANSPORT (RFC 8656 §18.8): an IANA protocol number (17 UDP, 6 TCP) and 24 RFFU bits.</summary>
public static class RequestedTransportValue
{
    public const byte Udp = 17;
    public const byte Tcp = 6;

    public static bool TryRead(ReadOnlySpan<byte> value, out byte protocol)
    {
        protocol = value.Length == 4 ? value[0] : (byte)0;
        return value.Length == 4;
    }

    public static bool AddRequestedTransport(this ref StunMessageWriter writer, byte protocol)
    {
        if (!writer.TryAddAttribute(StunAttributeType.RequestedTransport, 4, out Span<byte> value))
        {
            return false;
        }

        value.Clear();
        value[0] = protocol;
        return true;
    }
}

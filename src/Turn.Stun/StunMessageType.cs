namespace Turn.Stun;

/// <summary>
/// The 14-bit message type: 12 method bits interleaved with the 2 class bits (RFC 8489 §5, Figure 3).
/// </summary>
public readonly record struct StunMessageType(StunMethod Method, StunClass Class)
{
    /// <summary>Largest method number that fits the 12 method bits.</summary>
    public const ushort MaxMethod = 0x0FFF;

    /// <summary>RFC 8489 §5: M11..M7 C1 M6..M4 C0 M3..M0 in the low 14 bits.</summary>
    public ushort Value => Encode(Method, Class);

    public static ushort Encode(StunMethod method, StunClass cls)
    {
        int m = (ushort)method & MaxMethod;
        int c = (int)cls & 0b11;
        return (ushort)((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0b01) << 4) | ((c & 0b10) << 7));
    }

    /// <summary>Splits a raw 16-bit type; the two top bits are ignored (the reader rejects them before).</summary>
    public static StunMessageType Decode(ushort value)
    {
        int method = (value & 0x000F) | ((value >> 1) & 0x0070) | ((value >> 2) & 0x0F80);
        int cls = ((value >> 4) & 0b01) | ((value >> 7) & 0b10);
        return new StunMessageType((StunMethod)method, (StunClass)cls);
    }

    public override string ToString() => $"{Method} {Class}";
}

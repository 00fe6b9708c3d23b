namespace Turn.Stun;

/// <summary>One attribute of a parsed message: its type, its value (padding excluded) and where it starts.</summary>
public readonly ref struct StunAttribute
{
    public StunAttribute(ushort type, ReadOnlySpan<byte> value, int offset)
    {
        Type = type;
        Value = value;
        Offset = offset;
    }

    public ushort Type { get; }

    public StunAttributeType KnownType => (StunAttributeType)Type;

    public ReadOnlySpan<byte> Value { get; }

    /// <summary>Offset of the attribute's 4-byte header from the start of the message.</summary>
    public int Offset { get; }

    public bool IsComprehensionRequired => StunAttributeTypes.IsComprehensionRequired(Type);
}

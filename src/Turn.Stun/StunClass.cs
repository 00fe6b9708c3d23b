namespace Turn.Stun;

/// <summary>RFC 8489 §5: the two class bits C1 C0 of the message type.</summary>
public enum StunClass : byte
{
    Request = 0b00,
    Indication = 0b01,
    SuccessResponse = 0b10,
    ErrorResponse = 0b11,
}

namespace Turn.Stun;

/// <summary>Why a byte string is or is not a well-framed STUN message (RFC 8489 §5, §6.3, §14).</summary>
public enum StunParseStatus
{
    Success = 0,
    /// <summary>Fewer than the 20 header bytes.</summary>
    TooShort,
    /// <summary>RFC 8489 §5: the two most significant bits of the first byte are not zero.</summary>
    NotStun,
    /// <summary>RFC 8489 §5: the Length field is not a multiple of 4.</summary>
    LengthNotMultipleOfFour,
    /// <summary>RFC 8489 §6.3: 20 + Length differs from the bytes present (datagram) or frame.</summary>
    LengthMismatch,
    /// <summary>RFC 8489 §14: an attribute (with its padding) runs past the end of the message.</summary>
    AttributeOverrun,
}

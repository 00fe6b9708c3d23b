using System.Text;

namespace Turn.Stun;

/// <summary>
/// ADDRESS-ERROR-CODE (RFC 8656 §18.12): the family byte, 13 reserved bits, class and number as in ERROR-CODE, and a
/// reason phrase; tells which family of a dual allocation failed and why.
/// </summary>
public static class AddressErrorCodeValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out StunAddressFamily family, out int code, out ReadOnlySpan<byte> reason)
    {
        family = StunAddressFamily.None;
        code = 0;
        reason = default;
        if (value.Length < 4 || !ErrorCodeValue.TryReadCode(value, out code))
        {
            return false;
        }

        family = (StunAddressFamily)value[0];
        reason = value[4..];
        return TextValue.IsValidText(reason, StunConstants.MaxReasonPhraseCharacters);
    }

    public static bool AddAddressErrorCode(this ref StunMessageWriter writer, StunAddressFamily family, int code, string? reason = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(code, 300);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(code, 699);
        reason ??= StunErrorCode.DefaultReason(code);
        if (!writer.TryAddAttribute(StunAttributeType.AddressErrorCode, 4 + Encoding.UTF8.GetByteCount(reason), out Span<byte> value))
        {
            return false;
        }

        ErrorCodeValue.WriteHeader(value, code);
        value[0] = (byte)family;
        Encoding.UTF8.GetBytes(reason, value[4..]);
        return true;
    }
}

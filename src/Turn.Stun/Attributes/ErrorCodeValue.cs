using System.Buffers.Binary;

namespace Turn.Stun;

/// <summary>
/// ERROR-CODE (RFC 8489 §14.8): 21 reserved bits, the class (hundreds digit, 3-6) in 3 bits, the number (0-99) in
/// 8 bits, then a UTF-8 reason phrase of fewer than 128 characters.
/// </summary>
public static class ErrorCodeValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out int code, out ReadOnlySpan<byte> reason)
    {
        code = 0;
        reason = default;
        if (value.Length < 4 || !TryReadCode(value, out code))
        {
            return false;
        }

        reason = value[4..];
        return TextValue.IsValidText(reason, StunConstants.MaxReasonPhraseCharacters);
    }

    /// <summary>Reads class and number from the low 11 bits of the first word (also used by ADDRESS-ERROR-CODE).</summary>
    internal static bool TryReadCode(ReadOnlySpan<byte> value, out int code)
    {
        int cls = value[2] & 0x07;
        int number = value[3];
        code = (cls * 100) + number;
        return cls is >= 3 and <= 6 && number <= 99;
    }

    internal static void WriteHeader(Span<byte> value, int code)
    {
        BinaryPrimitives.WriteUInt16BigEndian(value, 0);
        value[2] = (byte)(code / 100);
        value[3] = (byte)(code % 100);
    }
}

using System.Text.Unicode;

namespace Turn.Stun;

/// <summary>
/// UTF-8 text attributes: USERNAME (RFC 8489 §14.3), REALM (§14.9), NONCE (§14.10), SOFTWARE (§14.14),
/// ALTERNATE-DOMAIN (§14.16), and the reason phrases of ERROR-CODE and ADDRESS-ERROR-CODE.
/// </summary>
public static class TextValue
{
    /// <summary>Checks the value of a text attribute against the size rule of its type.</summary>
    public static bool IsValid(StunAttributeType type, ReadOnlySpan<byte> value) => type switch
    {
        // RFC 8489 §14.3: fewer than 509 bytes when sent, but receivers accept up to 763 bytes.
        StunAttributeType.Username => value.Length <= StunConstants.MaxUsernameBytes && Utf8.IsValid(value),
        StunAttributeType.Realm or StunAttributeType.Nonce or StunAttributeType.Software
            or StunAttributeType.AlternateDomain =>
            value.Length <= StunConstants.MaxTextBytes && IsValidText(value, StunConstants.MaxTextCharacters),
        _ => Utf8.IsValid(value),
    };

    /// <summary>Valid UTF-8 of at most <paramref name="maxCharacters"/> characters (Unicode scalar values).</summary>
    public static bool IsValidText(ReadOnlySpan<byte> value, int maxCharacters)
    {
        if (!Utf8.IsValid(value))
        {
            return false;
        }

        int characters = 0;
        foreach (byte b in value)
        {
            // Every scalar value has exactly one byte that is not a continuation byte (10xxxxxx).
            if ((b & 0xC0) != 0x80 && ++characters > maxCharacters)
            {
                return false;
            }
        }

        return true;
    }
}

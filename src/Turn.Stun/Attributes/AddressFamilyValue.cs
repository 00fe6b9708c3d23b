namespace Turn.Stun;

/// <summary>
/// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6) and ADDITIONAL-ADDRESS-FAMILY (§18.11): a family byte and 24 RFFU bits,
/// ignored on receipt and zero when sent. Whether the family is one the server offers is policy, not framing.
/// </summary>
public static class AddressFamilyValue
{
    public static bool TryRead(ReadOnlySpan<byte> value, out StunAddressFamily family)
    {
        family = value.Length == 4 ? (StunAddressFamily)value[0] : StunAddressFamily.None;
        return value.Length == 4;
    }

    public static bool AddAddressFamily(this ref StunMessageWriter writer, StunAttributeType type, StunAddressFamily family)
    {
        if (!writer.TryAddAttribute(type, 4, out Span<byte> value))
        {
            return false;
        }

        value.Clear();
        value[0] = (byte)family;
        return true;
    }
}

namespace Turn.Stun;

/// <summary>
/// Checks that the value of a known attribute has the shape its RFC gives it. Unknown types are not judged here:
/// whether they matter is the comprehension rule of RFC 8489 §6.3.1.
/// </summary>
public static class StunAttributeValidator
{
    public static bool IsWellFormed(ushort type, ReadOnlySpan<byte> value)
    {
        switch ((StunAttributeType)type)
        {
            case StunAttributeType.MappedAddress:
            case StunAttributeType.AlternateServer:
            case StunAttributeType.SourceAddress:
            case StunAttributeType.ChangedAddress:
            case StunAttributeType.ResponseOrigin:
            case StunAttributeType.OtherAddress:
            case StunAttributeType.XorMappedAddress:
            case StunAttributeType.XorPeerAddress:
            case StunAttributeType.XorRelayedAddress:
                // The XOR mask does not change the shape, so the plain check serves them all.
                return AddressValue.TryRead(value, out _);
            case StunAttributeType.Username:
            case StunAttributeType.Realm:
            case StunAttributeType.Nonce:
            case StunAttributeType.Software:
            case StunAttributeType.AlternateDomain:
                return TextValue.IsValid((StunAttributeType)type, value);
            case StunAttributeType.UserHash:
                return value.Length == StunConstants.UserHashLength;
            case StunAttributeType.MessageIntegrity:
                return value.Length == StunConstants.MessageIntegrityLength;
            case StunAttributeType.MessageIntegritySha256:
                return StunIntegrity.IsValidSha256Length(value.Length);
            case StunAttributeType.ErrorCode:
                return ErrorCodeValue.TryRead(value, out _, out _);
            case StunAttributeType.AddressErrorCode:
                return AddressErrorCodeValue.TryRead(value, out _, out _, out _);
            case StunAttributeType.UnknownAttributes:
                return UnknownAttributesValue.IsValid(value);
            case StunAttributeType.PasswordAlgorithms:
                return PasswordAlgorithmsValue.IsValid(value);
            case StunAttributeType.PasswordAlgorithm:
                return PasswordAlgorithmsValue.TryReadSingle(value, out _, out _);
            case StunAttributeType.ChannelNumber:
            case StunAttributeType.Lifetime:
            case StunAttributeType.RequestedAddressFamily:
            case StunAttributeType.AdditionalAddressFamily:
            case StunAttributeType.RequestedTransport:
            case StunAttributeType.ConnectionId:
            case StunAttributeType.Fingerprint:
            case StunAttributeType.ChangeRequest:
                return value.Length == 4;
            case StunAttributeType.ResponsePort:
                // RFC 5780 §7.5: a 16-bit port, then 16 bits of padding.
                return value.Length == 4;
            case StunAttributeType.EvenPort:
                return value.Length == 1;
            case StunAttributeType.DontFragment:
                return value.IsEmpty;
            case StunAttributeType.ReservationToken:
            case StunAttributeType.Icmp:
                return value.Length == 8;
            default:
                return true;
        }
    }
}

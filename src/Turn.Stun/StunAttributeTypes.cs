namespace Turn.Stun;

/// <summary>Facts about attribute type numbers.</summary>
public static class StunAttributeTypes
{
    /// <summary>RFC 8489 §14: types 0x0000-0x7FFF must be understood by the receiver.</summary>
    public static bool IsComprehensionRequired(ushort type) => type < 0x8000;

    /// <summary>True for every type this codec decodes (see <see cref="StunAttributeType"/>).</summary>
    public static bool IsKnown(ushort type) => (StunAttributeType)type switch
    {
        StunAttributeType.MappedAddress or StunAttributeType.ChangeRequest or StunAttributeType.Username
            or StunAttributeType.MessageIntegrity or StunAttributeType.ErrorCode or StunAttributeType.UnknownAttributes
            or StunAttributeType.ChannelNumber or StunAttributeType.Lifetime or StunAttributeType.XorPeerAddress
            or StunAttributeType.Data or StunAttributeType.Realm or StunAttributeType.Nonce
            or StunAttributeType.XorRelayedAddress or StunAttributeType.RequestedAddressFamily
            or StunAttributeType.EvenPort or StunAttributeType.RequestedTransport or StunAttributeType.DontFragment
            or StunAttributeType.MessageIntegritySha256 or StunAttributeType.PasswordAlgorithm
            or StunAttributeType.UserHash or StunAttributeType.XorMappedAddress or StunAttributeType.ReservationToken
            or StunAttributeType.ConnectionId or StunAttributeType.AdditionalAddressFamily
            or StunAttributeType.AddressErrorCode or StunAttributeType.PasswordAlgorithms
            or StunAttributeType.AlternateDomain or StunAttributeType.Icmp or StunAttributeType.Software
            or StunAttributeType.AlternateServer or StunAttributeType.Fingerprint or StunAttributeType.SourceAddress
            or StunAttributeType.ChangedAddress or StunAttributeType.Padding or StunAttributeType.ResponsePort
            or StunAttributeType.ResponseOrigin or StunAttributeType.OtherAddress => true,
        _ => false,
    };
}

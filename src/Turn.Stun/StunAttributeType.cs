namespace Turn.Stun;

/// <summary>
/// Attribute types of RFC 8489 §18.3, RFC 8656 §18, RFC 6062 §6.2, RFC 5780 §7 (NAT behaviour discovery), and the
/// RFC 3489 ones classic clients still use (CHANGE-REQUEST, SOURCE-ADDRESS, CHANGED-ADDRESS). 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional (RFC 8489 §14).
/// </summary>
public enum StunAttributeType : ushort
{
    MappedAddress = 0x0001,
    /// <summary>RFC 3489 §11.2.4 / RFC 5780 §7.2; a server without RFC 5780 support treats it as unknown.</summary>
    ChangeRequest = 0x0003,
    /// <summary>RFC 3489 §11.2.5: where the response was sent from (RFC 5780's RESPONSE-ORIGIN, for RFC 3489 clients).</summary>
    SourceAddress = 0x0004,
    /// <summary>RFC 3489 §11.2.3: the other IP and port (RFC 5780's OTHER-ADDRESS, for RFC 3489 clients).</summary>
    ChangedAddress = 0x0005,
    Username = 0x0006,
    MessageIntegrity = 0x0008,
    ErrorCode = 0x0009,
    UnknownAttributes = 0x000A,
    ChannelNumber = 0x000C,
    Lifetime = 0x000D,
    XorPeerAddress = 0x0012,
    Data = 0x0013,
    Realm = 0x0014,
    Nonce = 0x0015,
    XorRelayedAddress = 0x0016,
    RequestedAddressFamily = 0x0017,
    EvenPort = 0x0018,
    RequestedTransport = 0x0019,
    DontFragment = 0x001A,
    MessageIntegritySha256 = 0x001C,
    PasswordAlgorithm = 0x001D,
    UserHash = 0x001E,
    XorMappedAddress = 0x0020,
    /// <summary>RFC 5780 §7.6: free-form bytes that make a message bigger.</summary>
    Padding = 0x0026,
    /// <summary>RFC 5780 §7.5: the port the response goes to (at the request's source IP).</summary>
    ResponsePort = 0x0027,
    ReservationToken = 0x0022,
    ConnectionId = 0x002A,
    AdditionalAddressFamily = 0x8000,
    AddressErrorCode = 0x8001,
    PasswordAlgorithms = 0x8002,
    AlternateDomain = 0x8003,
    Icmp = 0x8004,
    Software = 0x8022,
    AlternateServer = 0x8023,
    /// <summary>RFC 5780 §7.3: the address and port the response was sent from.</summary>
    ResponseOrigin = 0x802B,
    /// <summary>RFC 5780 §7.4: the address and port that differ in both IP and port, for the "change" tests.</summary>
    OtherAddress = 0x802C,
    Fingerprint = 0x8028,
}

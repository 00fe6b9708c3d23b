namespace Turn.Relay;

/// <summary>Why an incoming packet got no answer. Counted, never logged per packet.</summary>
public enum DropReason
{
    /// <summary>RFC 8656 §12, RFC 7983: the first byte is neither STUN (0-3) nor ChannelData (0x40-0x4F).</summary>
    NotStunOrChannelData,
    /// <summary>RFC 8489 §6.3: header or attribute framing broken.</summary>
    Malformed,
    /// <summary>RFC 8489 §7: FINGERPRINT present but wrong.</summary>
    BadFingerprint,
    /// <summary>RFC 8489 §6.3: a success or error response reaches the server, which has no transaction open.</summary>
    UnexpectedResponse,
    /// <summary>RFC 8489 §6.3: a method this server does not serve, or a class the method does not allow.</summary>
    UnsupportedMethod,
    /// <summary>RFC 8656 §5: TURN messages without the magic cookie (RFC 3489 style) are not TURN.</summary>
    MissingMagicCookie,
    /// <summary>RFC 8489 §6.3.2: an indication with an unknown comprehension-required attribute.</summary>
    UnknownAttributeInIndication,
    /// <summary>RFC 8656 §5: ChannelData or a Send indication on a 5-tuple without a live allocation.</summary>
    NoAllocation,
    /// <summary>RFC 8656 §9, §11.2, §11.3: no permission for the peer's IP.</summary>
    NoPermission,
    /// <summary>RFC 8656 §12.6: ChannelData on a channel that is not bound (or has expired).</summary>
    NoChannel,
    /// <summary>The allocation's bandwidth limit (--max-bps) was exceeded.</summary>
    BandwidthExceeded,
    /// <summary>RFC 8656 §8.1: data for a peer of a family whose relayed address a dual allocation no longer has.</summary>
    NoRelayForFamily,

    /// <summary>A request that failed authentication from an address over its rate (<see cref="TurnEngineOptions.UnauthenticatedRate"/>).</summary>
    RateLimited,
}

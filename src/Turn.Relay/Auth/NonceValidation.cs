namespace Turn.Relay.Auth;

/// <summary>The verdict of <see cref="NonceService.Validate"/>.</summary>
public enum NonceValidation
{
    /// <summary>Issued by us (same key) to this client address, and not expired.</summary>
    Valid = 0,

    /// <summary>Well formed and authentic for this client address, but past its expiry.</summary>
    Stale,

    /// <summary>Anything else: wrong length or cookie, bad encoding, another client address, another key.</summary>
    Invalid,
}

namespace Turn.Relay.Auth;

/// <summary>
/// What <see cref="LongTermAuthenticator.Authenticate"/> decided, in the order of the checks of RFC 8489 §9.2.4.
/// Every value but <see cref="Authenticated"/> maps to one error response (<see cref="AuthStatusExtensions.ToErrorCode"/>);
/// the separate 401 reasons exist for counters and debug logs (bounded labels), the client sees the same 401.
/// </summary>
public enum AuthStatus
{
    /// <summary>Integrity verified with a valid nonce: process the request and sign the answer.</summary>
    Authenticated = 0,

    /// <summary>401: no MESSAGE-INTEGRITY(-SHA256), the usual first request of a client (RFC 8489 §9.2.4).</summary>
    Challenge,

    /// <summary>
    /// 400: USERNAME/USERHASH, REALM or NONCE missing, or the PASSWORD-ALGORITHM(S) bid-down checks failed
    /// (RFC 8489 §9.2.4, §9.2.1). The answer carries no challenge and no integrity.
    /// </summary>
    BadRequest,

    /// <summary>401: REALM is not ours; treated as invalid credentials.</summary>
    WrongRealm,

    /// <summary>401: no static user of that name (or USERHASH) and not a TURN REST API username.</summary>
    UnknownUser,

    /// <summary>401: a TURN REST API username whose expiry timestamp has passed.</summary>
    ExpiredCredentials,

    /// <summary>401: MESSAGE-INTEGRITY(-SHA256) does not verify with the user's key (or with any REST secret).</summary>
    IntegrityMismatch,

    /// <summary>
    /// 438: integrity verified, but the nonce is expired, was issued to another client address, or is not one of
    /// ours (RFC 8489 §9.2.4: the nonce check comes after the integrity check).
    /// </summary>
    StaleNonce,
}

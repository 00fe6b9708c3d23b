using Turn.Stun;

namespace Turn.Relay.Auth;

public static class AuthStatusExtensions
{
    /// <summary>The ERROR-CODE to answer with (RFC 8489 §9.2.4), or 0 for <see cref="AuthStatus.Authenticated"/>.</summary>
    public static int ToErrorCode(this AuthStatus status) => status switch
    {
        AuthStatus.Authenticated => 0,
        AuthStatus.BadRequest => StunErrorCode.BadRequest,
        AuthStatus.StaleNonce => StunErrorCode.StaleNonce,
        _ => StunErrorCode.Unauthenticated,
    };

    /// <summary>
    /// Whether the error response carries REALM, a fresh NONCE and PASSWORD-ALGORITHMS (RFC 8489 §9.2.4: every 401
    /// and 438); a 400 carries none of them.
    /// </summary>
    public static bool NeedsChallenge(this AuthStatus status) =>
        status is not (AuthStatus.Authenticated or AuthStatus.BadRequest);
}

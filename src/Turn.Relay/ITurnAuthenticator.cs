using Turn.Stun;

namespace Turn.Relay;

/// <summary>Outcome of checking a TURN request's long-term credentials (RFC 8489 §9.2.4).</summary>
public enum AuthenticationStatus
{
    Authenticated,
    /// <summary>401 with REALM, NONCE (and PASSWORD-ALGORITHMS): no or bad credentials.</summary>
    Unauthenticated,
    /// <summary>400: integrity without USERNAME/REALM/NONCE, or a bid-down of the password algorithm.</summary>
    BadRequest,
    /// <summary>438 with a fresh NONCE: credentials fine, nonce expired.</summary>
    StaleNonce,
}

/// <summary>The long-term credential mechanism as the TURN handlers use it.</summary>
public interface ITurnAuthenticator
{
    AuthenticationStatus Authenticate(in StunMessageReader request, in FiveTuple tuple, out RequestKey key);

    /// <summary>Adds REALM, NONCE and PASSWORD-ALGORITHMS to a 401 or 438 answer (RFC 8489 §9.2.4).</summary>
    void AddChallenge(ref StunMessageWriter writer, in FiveTuple tuple);
}

namespace Turn.Relay.Auth;

/// <summary>Which integrity attribute protects the answer to an authenticated request (RFC 8489 §9.2.4).</summary>
public enum ResponseIntegrity
{
    /// <summary>The request was processed as MD5 without PASSWORD-ALGORITHM: HMAC-SHA1.</summary>
    MessageIntegrity = 0,

    /// <summary>The request chose an algorithm with PASSWORD-ALGORITHM: HMAC-SHA256, full 32 bytes.</summary>
    MessageIntegritySha256 = 1,
}

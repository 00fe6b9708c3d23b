namespace Turn.Stun;

/// <summary>Fixed numbers of the STUN wire format (RFC 8489 §5, §14.7).</summary>
public static class StunConstants
{
    /// <summary>RFC 8489 §5: the fixed value in bytes 4-7 of every RFC 5389/8489 message.</summary>
    public const uint MagicCookie = 0x2112A442;

    /// <summary>RFC 8489 §14.7: the CRC-32 of a message is XORed with this value to form FINGERPRINT.</summary>
    public const uint FingerprintXor = 0x5354554E;

    /// <summary>RFC 8489 §5: every message starts with a 20-byte header.</summary>
    public const int HeaderLength = 20;

    /// <summary>RFC 8489 §14: every attribute starts with a 4-byte type/length header.</summary>
    public const int AttributeHeaderLength = 4;

    /// <summary>RFC 8489 §5: the Length field is 16 bits, so a message is at most 20 + 65535 bytes (and a multiple of 4).</summary>
    public const int MaxMessageLength = HeaderLength + 65532;

    /// <summary>RFC 8489 §14.5: MESSAGE-INTEGRITY is an HMAC-SHA1, 20 bytes.</summary>
    public const int MessageIntegrityLength = 20;

    /// <summary>RFC 8489 §14.6: MESSAGE-INTEGRITY-SHA256 is at most 32 bytes.</summary>
    public const int MessageIntegritySha256Length = 32;

    /// <summary>RFC 8489 §14.6: a truncated MESSAGE-INTEGRITY-SHA256 is at least 16 bytes.</summary>
    public const int MessageIntegritySha256MinLength = 16;

    /// <summary>RFC 8489 §14.7: FINGERPRINT value length.</summary>
    public const int FingerprintLength = 4;

    /// <summary>RFC 8489 §14.4: USERHASH is a SHA-256 digest.</summary>
    public const int UserHashLength = 32;

    /// <summary>RFC 8489 §14.3: USERNAME is fewer than 509 bytes when sent; receivers accept up to 763 bytes.</summary>
    public const int MaxUsernameBytes = 763;

    /// <summary>RFC 8489 §14.9, §14.10, §14.14, §14.16: REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN are fewer than 128 characters.</summary>
    public const int MaxTextCharacters = 127;

    /// <summary>RFC 8489 §14.9: the byte limit that goes with fewer than 128 characters.</summary>
    public const int MaxTextBytes = 763;

    /// <summary>RFC 8489 §14.8: the reason phrase is fewer than 128 characters.</summary>
    public const int MaxReasonPhraseCharacters = 127;
}

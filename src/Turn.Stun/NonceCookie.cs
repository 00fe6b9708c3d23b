using System.Buffers.Text;

namespace Turn.Stun;

/// <summary>STUN Security Features (RFC 8489 §18.1), numbered from the least significant bit (Errata 6290).</summary>
[Flags]
public enum SecurityFeatures
{
    None = 0,
    /// <summary>Bit 0: the server sends PASSWORD-ALGORITHMS.</summary>
    PasswordAlgorithms = 0x000001,
    /// <summary>Bit 1: the server accepts USERHASH in place of USERNAME.</summary>
    UsernameAnonymity = 0x000002,
}

/// <summary>
/// RFC 8489 §9.2: a NONCE starts with "obMatJos2" and the 4-character base64 of the 24-bit Security Features;
/// bit 0 is the rightmost bit (Errata 6290), so "AAAB" is Password algorithms and "AAAC" Username anonymity.
/// </summary>
public static class NonceCookie
{
    public const string Prefix = "obMatJos2";

    /// <summary>Prefix plus the 4 feature characters.</summary>
    public const int Length = 13;

    /// <summary>The 13-character cookie for a feature set, e.g. "obMatJos2AAAD".</summary>
    public static string Create(SecurityFeatures features)
    {
        Span<byte> bits = [(byte)((int)features >> 16), (byte)((int)features >> 8), (byte)features];
        return Prefix + Convert.ToBase64String(bits);
    }

    /// <summary>Reads the features of a nonce that starts with the cookie; false when it does not.</summary>
    public static bool TryParse(ReadOnlySpan<byte> nonce, out SecurityFeatures features)
    {
        features = SecurityFeatures.None;
        if (nonce.Length < Length || !nonce.StartsWith("obMatJos2"u8))
        {
            return false;
        }

        Span<byte> bits = stackalloc byte[3];
        if (Base64.DecodeFromUtf8(nonce[Prefix.Length..Length], bits, out _, out int written) != System.Buffers.OperationStatus.Done
            || written != 3)
        {
            return false;
        }

        features = (SecurityFeatures)((bits[0] << 16) | (bits[1] << 8) | bits[2]);
        return true;
    }
}

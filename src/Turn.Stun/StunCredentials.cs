using System.Security.Cryptography;
using System.Text;

namespace Turn.Stun;

/// <summary>Key derivation of RFC 8489 §9.1.1 (short-term), §9.2.2 and §18.5.1 (long-term) and §14.4 (USERHASH).</summary>
public static class StunCredentials
{
    /// <summary>16 bytes for MD5, 32 for SHA-256.</summary>
    public static int GetKeyLength(PasswordAlgorithm algorithm) =>
        algorithm == PasswordAlgorithm.Sha256 ? SHA256.HashSizeInBytes : MD5.HashSizeInBytes;

    /// <summary>
    /// RFC 8489 §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)), or SHA-256 of the
    /// same string when PASSWORD-ALGORITHM is SHA-256 (§18.5.1.2). The username is used as received in USERNAME.
    /// </summary>
    public static int DeriveLongTermKey(string username, string realm, string password, PasswordAlgorithm algorithm, Span<byte> key)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(realm);
        ArgumentNullException.ThrowIfNull(password);
        string input = string.Concat(username, ":", OpaqueString(realm), ":", OpaqueString(password));
        return Hash(input, algorithm, key);
    }

    /// <summary>RFC 8489 §9.1.1: the short-term key is OpaqueString(password) as UTF-8.</summary>
    public static byte[] DeriveShortTermKey(string password) => Encoding.UTF8.GetBytes(OpaqueString(password));

    /// <summary>RFC 8489 §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)).</summary>
    public static void ComputeUserHash(string username, string realm, Span<byte> hash)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(realm);
        Hash(string.Concat(OpaqueString(username), ":", OpaqueString(realm)), PasswordAlgorithm.Sha256, hash);
    }

    /// <summary>
    /// The RFC 8265 OpaqueString profile as far as it maps text: Unicode normalization form C. Passwords from
    /// configuration are expected to be prepared already; this keeps NFC-equivalent spellings interoperable.
    /// </summary>
    public static string OpaqueString(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.IsNormalized(NormalizationForm.FormC) ? text : text.Normalize(NormalizationForm.FormC);
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5351", Justification = "RFC 8489 §9.2.2 mandates MD5 for the long-term key.")]
    private static int Hash(string input, PasswordAlgorithm algorithm, Span<byte> destination)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(input);
        try
        {
            return algorithm switch
            {
                PasswordAlgorithm.Md5 => MD5.HashData(bytes, destination),
                PasswordAlgorithm.Sha256 => SHA256.HashData(bytes, destination),
                _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unsupported password algorithm."),
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}

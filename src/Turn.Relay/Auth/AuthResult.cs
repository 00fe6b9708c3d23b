using System.Diagnostics.CodeAnalysis;
using System.Text;
using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// The outcome of a successful <see cref="LongTermAuthenticator.Authenticate"/>: who, with which key and algorithm,
/// and how to sign the answer. A ref struct that lives while the request is handled: <see cref="UsernameUtf8"/> may
/// point into the request, and the key is held inline (no heap).
/// </summary>
public ref struct AuthResult
{
    private readonly StaticUser? _staticUser;
    private LongTermKeyBuffer _key;
    private readonly int _keyLength;

    internal AuthResult(
        ReadOnlySpan<byte> usernameUtf8, StaticUser? staticUser, scoped ReadOnlySpan<byte> key,
        PasswordAlgorithm algorithm, ResponseIntegrity responseIntegrity, string? secretId = null)
    {
        SecretId = secretId;
        UsernameUtf8 = usernameUtf8;
        _staticUser = staticUser;
        key.CopyTo(_key);
        _keyLength = key.Length;
        Algorithm = algorithm;
        ResponseIntegrity = responseIntegrity;
    }

    /// <summary>
    /// The user as UTF-8: the USERNAME as received, or a static user's name when the request carried USERHASH.
    /// This is what RFC 8656 §5 compares with the allocation's owner (441 Wrong Credentials).
    /// </summary>
    public ReadOnlySpan<byte> UsernameUtf8 { get; }

    /// <summary>MD5 (also when the request named no algorithm) or SHA-256 (RFC 8489 §18.5.1).</summary>
    public PasswordAlgorithm Algorithm { get; }

    /// <summary>RFC 8489 §9.2.4: MESSAGE-INTEGRITY-SHA256 when the request used PASSWORD-ALGORITHM, else MESSAGE-INTEGRITY.</summary>
    public ResponseIntegrity ResponseIntegrity { get; }

    /// <summary>For a TURN REST API username, the id of the secret its password was made with; null for a configured user.</summary>
    public string? SecretId { get; }

    /// <summary>True for a configured user, false for a TURN REST API username.</summary>
    public readonly bool IsStaticUser => _staticUser is not null;

    /// <summary>The long-term key: 16 bytes (MD5) or 32 (SHA-256). Keep it, never the password (RFC 8656 §6).</summary>
    [UnscopedRef]
    public readonly ReadOnlySpan<byte> Key => ((ReadOnlySpan<byte>)_key)[.._keyLength];

    /// <summary>The username as a string: a static user's cached name, or (REST) a new string.</summary>
    public readonly string GetUsername() => _staticUser?.Name ?? Encoding.UTF8.GetString(UsernameUtf8);

    /// <summary>
    /// Appends MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY computed with <see cref="Key"/> (RFC 8489 §9.2.4,
    /// checklist item 48). Call it after the last attribute the integrity covers and before FINGERPRINT.
    /// </summary>
    public readonly bool Sign(ref StunMessageWriter writer) => ResponseIntegrity == ResponseIntegrity.MessageIntegritySha256
        ? writer.AddMessageIntegritySha256(Key)
        : writer.AddMessageIntegrity(Key);
}

using System.Text;
using Turn.Stun;

namespace Turn.Relay.Auth;

/// <summary>
/// A configured user as kept after loading: the name and the long-term keys derived from it, never the password
/// (RFC 8656 §6; checklist item 35). Both keys exist because the client picks the algorithm per request.
/// </summary>
internal sealed class StaticUser
{
    private readonly byte[] _md5Key;
    private readonly byte[] _sha256Key;

    public StaticUser(string name, string realm, string password)
    {
        Name = name;
        NameUtf8 = Encoding.UTF8.GetBytes(name);
        _md5Key = new byte[StunCredentials.GetKeyLength(PasswordAlgorithm.Md5)];
        _sha256Key = new byte[StunCredentials.GetKeyLength(PasswordAlgorithm.Sha256)];
        StunCredentials.DeriveLongTermKey(name, realm, password, PasswordAlgorithm.Md5, _md5Key);
        StunCredentials.DeriveLongTermKey(name, realm, password, PasswordAlgorithm.Sha256, _sha256Key);
        UserHash = new byte[StunConstants.UserHashLength];
        StunCredentials.ComputeUserHash(name, realm, UserHash);
    }

    public string Name { get; }

    public byte[] NameUtf8 { get; }

    /// <summary>RFC 8489 §14.4: SHA-256(OpaqueString(username) ":" OpaqueString(realm)).</summary>
    public byte[] UserHash { get; }

    /// <summary>RFC 8489 §9.2.2 (MD5) or §18.5.1.2 (SHA-256).</summary>
    public ReadOnlySpan<byte> GetKey(PasswordAlgorithm algorithm) =>
        algorithm == PasswordAlgorithm.Sha256 ? _sha256Key : _md5Key;
}

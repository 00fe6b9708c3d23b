using System.Text;
using Turn.Stun;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// A minimal long-term authenticator for engine tests: USERNAME must name a known user and MESSAGE-INTEGRITY must
/// verify with MD5(user:realm:password). The full RFC 8489 §9.2.4 flow has its own tests.
/// </summary>
internal sealed class TestAuthenticator : ITurnAuthenticator
{
    public const string Realm = "engine.test";
    public const string Nonce = "obMatJos2AAAAengine-test-nonce";

    private readonly Dictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public TestAuthenticator(params (string User, string Password)[] users)
    {
        foreach (var (user, password) in users)
        {
            _keys[user] = Key(user, password);
        }
    }

    public static byte[] Key(string user, string password)
    {
        byte[] key = new byte[16];
        StunCredentials.DeriveLongTermKey(user, Realm, password, PasswordAlgorithm.Md5, key);
        return key;
    }

    public AuthenticationStatus Authenticate(in StunMessageReader request, in FiveTuple tuple, out RequestKey key)
    {
        key = default;
        if (!request.HasMessageIntegrity)
        {
            return AuthenticationStatus.Unauthenticated;
        }

        if (!request.TryGetAttribute(StunAttributeType.Username, out StunAttribute username))
        {
            return AuthenticationStatus.BadRequest;
        }

        string user = Encoding.UTF8.GetString(username.Value);
        if (!_keys.TryGetValue(user, out byte[]? bytes) || !request.VerifyMessageIntegrity(bytes))
        {
            return AuthenticationStatus.Unauthenticated;
        }

        key = new RequestKey(user, bytes, sha256: false);
        return AuthenticationStatus.Authenticated;
    }

    public void AddChallenge(ref StunMessageWriter writer, in FiveTuple tuple)
    {
        writer.AddText(StunAttributeType.Realm, Realm);
        writer.AddText(StunAttributeType.Nonce, Nonce);
    }
}

using System.Text;
using Turn.Relay;
using Turn.Stun;

namespace Turn.Fuzz;

/// <summary>
/// For the engine target only: a request that names the user "alice" or "bob" in USERNAME counts as authenticated,
/// signed or not, so the fuzzer (which cannot compute an HMAC) reaches every TURN method and state. The real
/// authenticator's checks are fuzzed through the codec target and tested on their own.
/// </summary>
internal sealed class TrustingAuthenticator : ITurnAuthenticator
{
    public const string Realm = "fuzz.test";

    private static readonly byte[] Key = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];

    public AuthenticationStatus Authenticate(in StunMessageReader request, in FiveTuple tuple, out RequestKey key)
    {
        key = default;
        if (!request.TryGetAttribute(StunAttributeType.Username, out StunAttribute username))
        {
            return AuthenticationStatus.Unauthenticated;
        }

        string? user = username.Value.SequenceEqual("alice"u8) ? "alice" : username.Value.SequenceEqual("bob"u8) ? "bob" : null;
        if (user is null)
        {
            return AuthenticationStatus.Unauthenticated;
        }

        key = new RequestKey(user, Key, sha256: false);
        return AuthenticationStatus.Authenticated;
    }

    public void AddChallenge(ref StunMessageWriter writer, in FiveTuple tuple)
    {
        writer.AddText(StunAttributeType.Realm, Realm);
        writer.AddText(StunAttributeType.Nonce, "obMatJos2AAAAfuzz-nonce");
    }

    /// <summary>USERNAME of a seed request (unsigned: this authenticator does not look).</summary>
    public static byte[] UserName => Encoding.ASCII.GetBytes("alice");
}

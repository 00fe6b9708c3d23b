using Turn.Relay.Auth;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>What a handler learns from one <see cref="LongTermAuthenticator.Authenticate"/>, copied out of the ref struct.</summary>
internal sealed record AuthOutcome(
    AuthStatus Status, string? Username, byte[]? UsernameUtf8, byte[]? Key, PasswordAlgorithm Algorithm,
    ResponseIntegrity ResponseIntegrity, bool IsStaticUser, byte[] Response);

/// <summary>Plays the TURN handler around the authenticator: authenticate, then answer as RFC 8489 §9.2.4 says.</summary>
internal static class AuthHarness
{
    public static AuthOutcome Run(LongTermAuthenticator authenticator, byte[] request, FiveTuple? tuple = null)
    {
        FiveTuple client = tuple ?? AuthRequest.Client;
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(request, out StunMessageReader reader));
        AuthStatus status = authenticator.Authenticate(reader, client, out AuthResult result);
        byte[] response = new byte[1024];
        if (status == AuthStatus.Authenticated)
        {
            var writer = new StunMessageWriter(response, new StunMessageType(reader.Header.Method, StunClass.SuccessResponse), reader.Header.TransactionId);
            writer.AddUInt32(StunAttributeType.Lifetime, 600);
            Assert.True(result.Sign(ref writer));
            writer.AddFingerprint();
            Assert.False(writer.HasOverflowed);
            return new AuthOutcome(status, result.GetUsername(), result.UsernameUtf8.ToArray(), result.Key.ToArray(),
                result.Algorithm, result.ResponseIntegrity, result.IsStaticUser, response[..writer.Length]);
        }

        var error = new StunMessageWriter(response, new StunMessageType(reader.Header.Method, StunClass.ErrorResponse), reader.Header.TransactionId);
        error.AddErrorCode(status.ToErrorCode());
        if (status.NeedsChallenge())
        {
            authenticator.AddChallenge(ref error, client);
        }

        error.AddFingerprint();
        Assert.False(error.HasOverflowed);
        return new AuthOutcome(status, null, null, null, PasswordAlgorithm.None, default, false, response[..error.Length]);
    }

    /// <summary>The first round trip of every client: a request without integrity, answered with a 401 challenge.</summary>
    public static Challenge Challenge(LongTermAuthenticator authenticator, FiveTuple? tuple = null)
    {
        AuthOutcome outcome = Run(authenticator, new AuthRequest { Integrity = RequestIntegrity.None }.Build(), tuple);
        Assert.Equal(AuthStatus.Challenge, outcome.Status);
        return Auth.Challenge.Read(outcome.Response);
    }

    public static int ErrorCode(byte[] response)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(response, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error));
        Assert.True(ErrorCodeValue.TryRead(error.Value, out int code, out _));
        return code;
    }
}

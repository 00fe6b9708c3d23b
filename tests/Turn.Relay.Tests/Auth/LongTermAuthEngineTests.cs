using Microsoft.Extensions.Time.Testing;
using Turn.Relay.Allocations;
using Turn.Relay.Auth;
using Turn.Relay.Policy;
using Turn.Relay.Tests.Engine;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>The authenticator plugged into the TURN engine as its <see cref="ITurnAuthenticator"/>.</summary>
public class LongTermAuthEngineTests
{
    private const string Realm = "example.org";

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly StunMessageProcessor _processor;
    private readonly FakeClientTransport _transport = new();

    public LongTermAuthEngineTests()
    {
        LongTermAuthenticator authenticator = LongTermAuthenticator.Create(
            new LongTermAuthOptions { Realm = Realm, Users = ["alice:wonderland", "bob:builder"] }, _time);
        _processor = new StunMessageProcessor(new TurnEngineOptions { Software = "auth-test" }, new ServerCounters(), _time,
            new AllocationTable(), new FakePortAllocator(), PeerAddressPolicy.Default, authenticator);
    }

    private byte[] Send(byte[] request)
    {
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = _processor.Process(request, AuthRequest.Client, _transport, response);
        Assert.True(length > 0);
        return response[..length];
    }

    /// <summary>
    /// Checklist 50, RFC 8489 §9.2.4, RFC 8656 §5 (checklist 38, 48, 56): Allocate is challenged, then succeeds signed with
    /// MESSAGE-INTEGRITY-SHA256 under the negotiated key; a Refresh on that allocation with another user's valid
    /// credentials is 441, signed with that user's key; the owner's Refresh succeeds.
    /// </summary>
    [Fact]
    public void Allocate_is_challenged_then_authenticated_and_other_users_get_441()
    {
        Challenge challenge = Challenge.Read(Send(new AuthRequest { Integrity = RequestIntegrity.None }.Build()));
        Assert.Equal(StunErrorCode.Unauthenticated, challenge.ErrorCode);
        Assert.Equal(Realm, challenge.Realm);

        byte[] aliceKey = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Sha256);
        byte[] allocated = Send(new AuthRequest
        {
            Username = "alice",
            Realm = Realm,
            Nonce = challenge.Nonce,
            Algorithms = [PasswordAlgorithm.Sha256, PasswordAlgorithm.Md5],
            Algorithm = PasswordAlgorithm.Sha256,
            Key = aliceKey,
            Integrity = RequestIntegrity.MessageIntegritySha256,
        }.Build());
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(allocated, out StunMessageReader allocateAnswer));
        Assert.Equal(StunClass.SuccessResponse, allocateAnswer.Header.Class);
        Assert.True(allocateAnswer.VerifyMessageIntegritySha256(aliceKey));
        Assert.True(allocateAnswer.VerifyFingerprint());

        byte[] bobKey = AuthRequest.LongTermKey("bob", Realm, "builder", PasswordAlgorithm.Md5);
        byte[] refusal = Send(new AuthRequest { Method = StunMethod.Refresh, Username = "bob", Realm = Realm, Nonce = challenge.Nonce, Key = bobKey }.Build());
        Assert.Equal(StunErrorCode.WrongCredentials, AuthHarness.ErrorCode(refusal));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(refusal, out StunMessageReader refusalReader));
        Assert.True(refusalReader.VerifyMessageIntegrity(bobKey));

        byte[] aliceMd5 = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Md5);
        byte[] refreshed = Send(new AuthRequest { Method = StunMethod.Refresh, Username = "alice", Realm = Realm, Nonce = challenge.Nonce, Key = aliceMd5 }.Build());
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(refreshed, out StunMessageReader refreshAnswer));
        Assert.Equal(StunClass.SuccessResponse, refreshAnswer.Header.Class);
        Assert.True(refreshAnswer.VerifyMessageIntegrity(aliceMd5));
    }

    /// <summary>RFC 8489 §9.2.4 (checklist 47): through the engine, an expired nonce with good credentials is 438 with a new nonce.</summary>
    [Fact]
    public void Expired_nonce_is_answered_438_by_the_engine()
    {
        Challenge challenge = Challenge.Read(Send(new AuthRequest { Integrity = RequestIntegrity.None }.Build()));
        _time.Advance(TimeSpan.FromSeconds(600));

        byte[] answer = Send(new AuthRequest
        {
            Username = "alice",
            Realm = Realm,
            Nonce = challenge.Nonce,
            Key = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Md5),
        }.Build());

        Challenge renewed = Challenge.Read(answer);
        Assert.Equal(StunErrorCode.StaleNonce, renewed.ErrorCode);
        Assert.NotEqual(challenge.Nonce, renewed.Nonce);
    }
}

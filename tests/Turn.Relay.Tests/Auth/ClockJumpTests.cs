using Turn.Relay.Allocations;
using Turn.Relay.Auth;
using Turn.Relay.Policy;
using Turn.Relay.Tests.Engine;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>
/// Clock jumps through the TURN engine with the real authenticator: allocation lifetimes run on the monotonic clock
/// (RFC 8656 §7.2, §8), so setting the wall clock forward or back neither ends nor stretches them; nonces carry a
/// wall-clock expiry (so the nodes of a cluster agree on them), and one issued before the wall clock jumped is
/// answered 438 with a fresh nonce (RFC 8489 §9.2.4) rather than living on for the size of the jump.
/// </summary>
public class ClockJumpTests
{
    private const string Realm = "example.org";
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(600);

    private readonly JumpingClock _clock = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
    private readonly AllocationTable _allocations = new();
    private readonly StunMessageProcessor _processor;
    private readonly FakeClientTransport _transport = new();
    private readonly byte[] _key = AuthRequest.LongTermKey("alice", Realm, "wonderland", PasswordAlgorithm.Md5);

    public ClockJumpTests()
    {
        LongTermAuthenticator authenticator = LongTermAuthenticator.Create(new LongTermAuthOptions { Realm = Realm, Users = ["alice:wonderland"] }, _clock);
        _processor = new StunMessageProcessor(new TurnEngineOptions { Software = "clock-test" }, new ServerCounters(), _clock, _allocations,
            new FakePortAllocator(), PeerAddressPolicy.Default, authenticator);
    }

    private byte[] Send(byte[] request)
    {
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        int length = _processor.Process(request, AuthRequest.Client, _transport, response);
        Assert.True(length > 0);
        return response[..length];
    }

    private byte[] Signed(StunMethod method, string nonce) =>
        Send(new AuthRequest { Method = method, Username = "alice", Realm = Realm, Nonce = nonce, Key = _key }.Build());

    private static int? ErrorCode(byte[] answer)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        return reader.Header.Class == StunClass.SuccessResponse ? null : AuthHarness.ErrorCode(answer);
    }

    /// <summary>A fresh nonce and an allocation made with it.</summary>
    private string Allocate()
    {
        string nonce = Challenge.Read(Send(new AuthRequest { Integrity = RequestIntegrity.None }.Build())).Nonce;
        Assert.Null(ErrorCode(Signed(StunMethod.Allocate, nonce)));
        Assert.Equal(1, _allocations.Count);
        return nonce;
    }

    /// <summary>The allocation lives exactly <paramref name="remaining"/> more on the monotonic clock, then is swept.</summary>
    private void AssertExpiresAfter(TimeSpan remaining)
    {
        _clock.Advance(remaining - TimeSpan.FromSeconds(1));
        Assert.Equal(0, _allocations.Sweep(_clock.GetTimestamp()));
        Assert.Equal(1, _allocations.Count);
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, _allocations.Sweep(_clock.GetTimestamp()));
        Assert.Equal(0, _allocations.Count);
    }

    /// <summary>The wall clock set back a day: the old nonce gets 438, the new one works, the allocation keeps its lifetime.</summary>
    [Fact]
    public void Rfc8489_S9_2_4_wall_clock_set_back_makes_old_nonces_stale_and_leaves_lifetimes_alone()
    {
        string nonce = Allocate();
        _clock.Advance(TimeSpan.FromSeconds(100));
        _clock.SetWallClock(TimeSpan.FromDays(-1));

        byte[] stale = Signed(StunMethod.Refresh, nonce);
        Assert.Equal(StunErrorCode.StaleNonce, ErrorCode(stale));
        string fresh = Challenge.Read(stale).Nonce;
        Assert.NotEqual(nonce, fresh);
        Assert.Equal(1, _allocations.Count);
        AssertExpiresAfter(Lifetime - TimeSpan.FromSeconds(100));

        // The client carries on under the new wall clock: a new allocation, refreshed.
        fresh = Allocate();
        _clock.Advance(TimeSpan.FromSeconds(300));
        Assert.Null(ErrorCode(Signed(StunMethod.Refresh, fresh)));
        AssertExpiresAfter(Lifetime);
    }

    /// <summary>A backwards step smaller than the skew the cluster allows leaves the nonce valid.</summary>
    [Fact]
    public void A_small_wall_clock_step_back_keeps_the_nonce()
    {
        string nonce = Allocate();
        _clock.SetWallClock(TimeSpan.FromSeconds(-NonceService.MaxClockSkewSeconds));
        Assert.Null(ErrorCode(Signed(StunMethod.Refresh, nonce)));
    }

    /// <summary>The wall clock set forward a day: the nonce is stale (438), the allocation is not ended early.</summary>
    [Fact]
    public void Rfc8656_S8_wall_clock_set_forward_does_not_end_allocations_early()
    {
        string nonce = Allocate();
        _clock.SetWallClock(TimeSpan.FromDays(1));
        Assert.Equal(0, _allocations.Sweep(_clock.GetTimestamp()));

        byte[] stale = Signed(StunMethod.Refresh, nonce);
        Assert.Equal(StunErrorCode.StaleNonce, ErrorCode(stale));
        Assert.Null(ErrorCode(Signed(StunMethod.Refresh, Challenge.Read(stale).Nonce)));
        AssertExpiresAfter(Lifetime);
    }

    /// <summary>
    /// RFC 8656 §8: a suspend longer than the lifetime (the monotonic clock jumps) ends the allocation: swept, and a
    /// Refresh is 437; the client allocates again.
    /// </summary>
    [Fact]
    public void Rfc8656_S8_a_suspend_past_the_lifetime_ends_the_allocation()
    {
        Allocate();
        _clock.Suspend(Lifetime + TimeSpan.FromSeconds(5));
        Assert.Equal(1, _allocations.Sweep(_clock.GetTimestamp()));

        byte[] stale = Signed(StunMethod.Refresh, Challenge.Read(Send(new AuthRequest { Integrity = RequestIntegrity.None }.Build())).Nonce);
        Assert.Equal(StunErrorCode.AllocationMismatch, ErrorCode(stale));
        Allocate();
    }
}

using Turn.Relay.Auth;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 8656 §21.3.1 (denial of service): requests that fail authentication (401 challenges, wrong passwords) are
/// answered at a bounded rate per source address; over it they are dropped unanswered, other addresses and signed
/// requests are not affected, and the rate comes back with time. Memory stays bounded whatever the number of sources.
/// </summary>
public class RateLimitTests
{
    private static EngineHarness Limited() => new(new TurnEngineOptions { Software = "engine", UnauthenticatedRate = 2, UnauthenticatedBurst = 3 });

    [Fact]
    public void Failures_over_the_rate_are_dropped_per_source_and_the_rate_comes_back()
    {
        EngineHarness engine = Limited();
        byte[] unsigned = Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), user: null);
        byte[] wrongPassword = Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), password: "guess");
        Assert.Equal(StunErrorCode.Unauthenticated, engine.Send(unsigned)!.ErrorCode);
        Assert.Equal(StunErrorCode.Unauthenticated, engine.Send(wrongPassword)!.ErrorCode);
        Assert.Equal(StunErrorCode.Unauthenticated, engine.Send(unsigned)!.ErrorCode);
        Assert.Null(engine.Send(wrongPassword));
        Assert.Null(engine.Send(unsigned));
        Assert.Equal(2, engine.Counters.Dropped(DropReason.RateLimited));

        // Another address has its own bucket; the same address on another port does not.
        Assert.Equal(StunErrorCode.Unauthenticated, engine.Send(unsigned, Tuple("198.51.100.99", 40000))!.ErrorCode);
        Assert.Null(engine.Send(unsigned, Tuple("198.51.100.10", 40001)));

        // A signed request is not limited: alice allocates while her address is over its rate.
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Allocate())!.Class);

        // Half a second brings one answer back (2 per second), a long pause the whole burst, not more.
        engine.Advance(TimeSpan.FromMilliseconds(500));
        Assert.NotNull(engine.Send(unsigned, Tuple("198.51.100.10", 40001)));
        Assert.Null(engine.Send(unsigned, Tuple("198.51.100.10", 40001)));
        engine.Advance(3600);
        for (int i = 0; i < 3; i++)
        {
            Assert.NotNull(engine.Send(unsigned, Tuple("198.51.100.10", 40002)));
        }

        Assert.Null(engine.Send(unsigned, Tuple("198.51.100.10", 40002)));
    }

    [Fact]
    public void Without_a_rate_nothing_is_dropped()
    {
        var engine = new EngineHarness();
        byte[] unsigned = Request(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17), user: null);
        for (int i = 0; i < 1000; i++)
        {
            Assert.NotNull(engine.Send(unsigned));
        }

        Assert.Equal(0, engine.Counters.Dropped(DropReason.RateLimited));
    }

    /// <summary>100,000 sources, ten times over: the table does not grow (a bucket per hash) and taking from it allocates nothing.</summary>
    [Fact]
    public void The_limiter_holds_a_fixed_table_and_allocates_nothing()
    {
        var limiter = new SourceRateLimiter(100, 400, TimeProvider.System.TimestampFrequency);
        long now = TimeProvider.System.GetTimestamp();
        TransportAddress[] sources = [.. Enumerable.Range(0, 100_000).Select(i => TransportAddress.FromIPAddress(new System.Net.IPAddress((uint)i + 0x0A000000u), 3478))];
        Assert.True(limiter.TryTake(sources[0], now));
        long before = GC.GetAllocatedBytesForCurrentThread();
        int taken = 0;
        for (int round = 0; round < 10; round++)
        {
            foreach (TransportAddress source in sources)
            {
                taken += limiter.TryTake(source, now) ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(taken > 0);
        Assert.True(taken <= 400 * SourceRateLimiter.TableSize, "more answers than the table's buckets allow");
    }
}

using Turn.Relay.Allocations;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>Bandwidth limits (RFC 8656 §5, §21.1.7: SHOULD limit per-username bandwidth) and tunnel rules (§21.4).</summary>
public class LimitsTests
{
    [Fact]
    public void Token_bucket_allows_one_second_of_burst_then_the_rate()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var bucket = new TokenBucket(1000, time.TimestampFrequency, time.GetTimestamp());
        Assert.True(bucket.TryConsume(600, time.GetTimestamp()));
        Assert.True(bucket.TryConsume(400, time.GetTimestamp()));
        Assert.False(bucket.TryConsume(1, time.GetTimestamp()));
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(bucket.TryConsume(100, time.GetTimestamp()));
        Assert.False(bucket.TryConsume(1, time.GetTimestamp()));
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(bucket.TryConsume(1001, time.GetTimestamp()));
        Assert.True(bucket.TryConsume(1000, time.GetTimestamp()));
    }

    [Fact]
    public void Token_bucket_earns_fractional_time_without_losing_it()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var bucket = new TokenBucket(10, time.TimestampFrequency, time.GetTimestamp());
        Assert.True(bucket.TryConsume(10, time.GetTimestamp()));
        for (int i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(50)); // half a byte each time
        }

        Assert.True(bucket.TryConsume(5, time.GetTimestamp()));
        Assert.False(bucket.TryConsume(1, time.GetTimestamp()));
    }

    /// <summary>Checklist 133, RFC 8656 §21.1.7: --max-bps: each direction of an allocation has its own budget; the excess is dropped and counted.</summary>
    [Fact]
    public void Max_bytes_per_second_drops_the_excess_in_each_direction()
    {
        var engine = new EngineHarness(new TurnEngineOptions { MaxBytesPerSecond = 1000 });
        engine.AllocateOk();
        engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }));
        FakeRelayEndpoint relay = Assert.Single(engine.Ports.Endpoints);
        byte[] channelData = new byte[4 + 400];
        ChannelData.WriteHeader(channelData, 0x4000, 400);
        for (int i = 0; i < 5; i++)
        {
            engine.Send(channelData);
        }

        Assert.Equal(2, relay.Sent.Count);
        int delivered = 0;
        for (int i = 0; i < 5; i++)
        {
            delivered += relay.FromPeer(Peer, new byte[300]) is null ? 0 : 1;
        }

        Assert.Equal(3, delivered);
        Assert.Equal(5, engine.Counters.Dropped(DropReason.BandwidthExceeded));

        engine.Advance(1);
        engine.Send(channelData);
        Assert.Equal(3, relay.Sent.Count);
    }

    /// <summary>Checklist 97, RFC 8656 §21.4: a client behind Teredo (2001::/32) or 6to4 (2002::/16) gets no allocation.</summary>
    [Theory]
    [InlineData("2001:0:4136:e378:8000:63bf:3fff:fdd2")]
    [InlineData("2002:c000:0201::1")]
    public void Rfc8656_S21_4_tunneled_clients_are_refused(string clientIp)
    {
        var engine = new EngineHarness();
        FiveTuple tunneled = new(Address(clientIp, 4000), Address("2001:db8::1", 3478), TransportProtocol.Udp);
        Assert.Equal(StunErrorCode.Forbidden, engine.Send(Allocate(), tunneled)!.ErrorCode);
        Assert.Empty(engine.Ports.Endpoints);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Allocate(), Tuple("198.51.100.50", 4000))!.Class);
    }
}

using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 5766 §11 channel numbers 0x5000-0x7FFF, reserved by RFC 8656 §12 and refused by default, work end to end when
/// the operator turns on the legacy mode (coturn's turnutils_uclient picks from 0x4000-0x7FFF).
/// </summary>
public class LegacyChannelTests
{
    private static byte[] ChannelBind(ushort channel) => Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
    {
        w.AddChannelNumber(channel);
        w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
    });

    private static byte[] ChannelDataMessage(ushort channel, byte[] data)
    {
        byte[] message = new byte[ChannelData.HeaderLength + data.Length];
        ChannelData.WriteHeader(message, channel, data.Length);
        data.CopyTo(message, ChannelData.HeaderLength);
        return message;
    }

    [Fact]
    public void Rfc8656_S12_legacy_numbers_are_refused_by_default()
    {
        var engine = new EngineHarness();
        engine.AllocateOk();
        Assert.Equal(StunErrorCode.BadRequest, engine.Send(ChannelBind(0x7BF4))!.ErrorCode);
        Assert.Null(engine.Send(ChannelDataMessage(0x7BF4, [1])));
        Assert.Equal(1, engine.Counters.Dropped(DropReason.NotStunOrChannelData));
    }

    [Fact]
    public void Rfc5766_S11_legacy_numbers_work_both_ways_when_allowed()
    {
        var engine = new EngineHarness(new TurnEngineOptions { AllowLegacyChannelNumbers = true });
        engine.AllocateOk();
        Assert.Equal(StunClass.SuccessResponse, engine.Send(ChannelBind(0x7BF4))!.Class);
        Assert.Equal(StunErrorCode.BadRequest, engine.Send(ChannelBind(0x8000))!.ErrorCode);

        engine.Send(ChannelDataMessage(0x7BF4, [1, 2, 3]));
        var (payload, to) = Assert.Single(Assert.Single(engine.Ports.Endpoints).Sent);
        Assert.Equal(new byte[] { 1, 2, 3 }, payload);
        Assert.Equal(Peer, to);

        byte[]? back = Assert.Single(engine.Ports.Endpoints).FromPeer(Peer, [9]);
        Assert.Equal(new byte[] { 0x7B, 0xF4, 0x00, 0x01, 9 }, back);
    }
}

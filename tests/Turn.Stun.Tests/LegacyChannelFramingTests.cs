using System.Buffers;

namespace Turn.Stun.Tests;

/// <summary>RFC 5766 §11 channel numbers on a stream: framed only when the legacy mode asks for them.</summary>
public class LegacyChannelFramingTests
{
    [Fact]
    public void Rfc5766_S11_legacy_channel_frames_only_in_legacy_mode()
    {
        var frame = new ReadOnlySequence<byte>(new byte[] { 0x7B, 0xF4, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0 });
        Assert.Equal(FrameStatus.Invalid, StunFraming.TryReadFrame(frame, out _, out _));
        Assert.Equal(FrameStatus.Complete, StunFraming.TryReadFrame(frame, allowLegacyChannels: true, out PacketKind kind, out int length));
        Assert.Equal(PacketKind.ChannelData, kind);
        Assert.Equal(12, length);
        Assert.True(ChannelData.TryParse(frame.FirstSpan, allowLegacy: true, out ushort channel, out ReadOnlySpan<byte> data));
        Assert.Equal(0x7BF4, channel);
        Assert.Equal(5, data.Length);
        Assert.False(ChannelData.TryParse(frame.FirstSpan, out _, out _));
        Assert.Equal(PacketKind.Other, PacketClassifier.Classify(0x80, allowLegacyChannels: true));
    }
}

using System.Buffers;
using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Turn.Stun.Tests;

/// <summary>
/// <see cref="StunFraming.TryReadFrame"/> over TCP/TLS byte streams: STUN messages are 20 + Length bytes
/// (RFC 8489 §6.2.2), ChannelData messages 4 + Length rounded up to a multiple of 4 (RFC 8656 §12.5), and the first
/// byte tells which (RFC 8656 §12, RFC 7983). However the stream is cut into segments, the same frames come out.
/// </summary>
public class StreamFramingTests
{
    private static readonly Frame[] Frames = BuildFrames();

    private static readonly byte[] Stream = Frames.SelectMany(f => f.Bytes).ToArray();

    /// <summary>Checklist 27, RFC 8489 §6.2.2, RFC 8656 §12.5: the stream in one piece yields every frame, kind and length.</summary>
    [Fact]
    public void Rfc8489_S6_2_2_Rfc8656_S12_5_one_segment_yields_every_frame()
    {
        Assert.True(Stream.Length > 1000);
        AssertFrames(Frames, Drain(new ReadOnlySequence<byte>(Stream), out int rest));
        Assert.Equal(0, rest);
    }

    /// <summary>
    /// Checklist 27, RFC 8489 §6.2.2, RFC 8656 §12.5: split into two segments at every point (empty first or last segment
    /// included), the framer yields exactly the original frames.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_2_2_Rfc8656_S12_5_two_segments_split_at_every_point()
    {
        for (int split = 0; split <= Stream.Length; split++)
        {
            ReadOnlySequence<byte> sequence = Segments.Create(Stream.AsMemory(0, split), Stream.AsMemory(split));
            Assert.Equal(Stream.Length, sequence.Length);
            List<Frame> frames = Drain(sequence, out int rest);
            Assert.True(rest == 0, $"split at {split}: {rest} bytes left over");
            AssertFrames(Frames, frames);
        }
    }

    /// <summary>
    /// Checklist 27, RFC 8489 §6.2.2, RFC 8656 §12.5: fed one byte at a time (every byte its own segment), the framer says
    /// Incomplete until the last byte of each frame has arrived and Complete, with the right kind and length, then.
    /// </summary>
    [Fact]
    public void Rfc8489_S6_2_2_Rfc8656_S12_5_one_byte_at_a_time()
    {
        var pending = new List<byte>();
        var produced = new List<Frame>();
        int frameIndex = 0;
        foreach (byte b in Stream)
        {
            pending.Add(b);
            ReadOnlySequence<byte> sequence = Segments.Create(pending.Select(x => (ReadOnlyMemory<byte>)new[] { x }).ToArray());
            FrameStatus status = StunFraming.TryReadFrame(sequence, out PacketKind kind, out int length);
            Frame expected = Frames[frameIndex];
            Assert.Equal(expected.Kind, kind);
            if (pending.Count < expected.Bytes.Length)
            {
                Assert.Equal(FrameStatus.Incomplete, status);
                continue;
            }

            Assert.Equal(FrameStatus.Complete, status);
            Assert.Equal(expected.Bytes.Length, length);
            produced.Add(new Frame(expected.Name, kind, sequence.Slice(0, length).ToArray()));
            pending.Clear();
            frameIndex++;
        }

        AssertFrames(Frames, produced);
    }

    /// <summary>RFC 8489 §6.2.2, RFC 8656 §12.5: every proper prefix of each frame is Incomplete, never Invalid.</summary>
    [Fact]
    public void Rfc8489_S6_2_2_every_proper_prefix_of_a_frame_is_incomplete()
    {
        foreach (Frame frame in Frames)
        {
            Assert.Equal(FrameStatus.Incomplete, StunFraming.TryReadFrame(ReadOnlySequence<byte>.Empty, out _, out _));
            for (int length = 1; length < frame.Bytes.Length; length++)
            {
                var prefix = new ReadOnlySequence<byte>(frame.Bytes, 0, length);
                Assert.Equal(FrameStatus.Incomplete, StunFraming.TryReadFrame(prefix, out PacketKind kind, out _));
                Assert.Equal(frame.Kind, kind);
            }

            Assert.Equal(FrameStatus.Complete, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(frame.Bytes), out _, out int frameLength));
            Assert.Equal(frame.Bytes.Length, frameLength);
        }
    }

    /// <summary>RFC 8489 §6.2.2, RFC 8656 §12.5: any cut into many tiny segments, empty ones among them, gives the same frames.</summary>
    [Property(MaxTest = 200)]
    public Property Rfc8489_S6_2_2_many_tiny_segments_give_the_same_frames() =>
        Prop.ForAll(Gen.Choose(0, 7).ArrayOf().Where(a => a.Length > 0).ToArbitrary(), sizes =>
        {
            int[] cycle = sizes.Any(s => s > 0) ? sizes : [.. sizes, 1];
            var chunks = new List<ReadOnlyMemory<byte>>();
            for (int i = 0, offset = 0; offset < Stream.Length; i++)
            {
                int size = Math.Min(cycle[i % cycle.Length], Stream.Length - offset);
                chunks.Add(Stream.AsMemory(offset, size));
                offset += size;
            }

            ReadOnlySequence<byte> sequence = Segments.Create(chunks.ToArray());
            Assert.Equal(Stream.Length, sequence.Length);
            AssertFrames(Frames, Drain(sequence, out int rest));
            Assert.Equal(0, rest);
        });

    /// <summary>
    /// Checklist 115, RFC 8656 §12, RFC 7983: the first byte alone decides: 0-3 STUN and 0x40-0x4F ChannelData wait for more,
    /// anything else (0x04-0x3F, the reserved channels 0x50-0x7F, 0x80-0xFF) makes the stream unframeable.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_Rfc7983_first_byte_decides_whether_the_stream_can_be_framed()
    {
        for (int first = 0; first <= 0xFF; first++)
        {
            PacketKind expectedKind = first <= 3 ? PacketKind.Stun : first is >= 0x40 and <= 0x4F ? PacketKind.ChannelData : PacketKind.Other;
            foreach (int available in new[] { 1, 3, 4, 19 })
            {
                byte[] bytes = new byte[available];
                bytes[0] = (byte)first;
                FrameStatus status = StunFraming.TryReadFrame(new ReadOnlySequence<byte>(bytes), out PacketKind kind, out _);
                Assert.Equal(expectedKind, kind);
                if (expectedKind == PacketKind.Other)
                {
                    Assert.Equal(FrameStatus.Invalid, status);
                }
                else if (expectedKind == PacketKind.Stun || available < 4)
                {
                    Assert.Equal(FrameStatus.Incomplete, status);
                }
                else
                {
                    Assert.Equal(FrameStatus.Complete, status); // ChannelData with Length 0 is a 4-byte frame
                }
            }
        }
    }

    /// <summary>Checklist 115, RFC 8656 §12, §12.6: ChannelData of the reserved channel range 0x5000-0x7FFF cannot be framed.</summary>
    [Theory]
    [InlineData(0x5000)]
    [InlineData(0x5FFF)]
    [InlineData(0x7ABC)]
    [InlineData(0x7FFF)]
    public void Rfc8656_S12_6_reserved_channels_are_invalid(int channel)
    {
        byte[] bytes = new byte[8];
        ChannelData.WriteHeader(bytes, (ushort)channel, 4);
        Assert.Equal(FrameStatus.Invalid, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(bytes), out _, out _));
        Assert.False(ChannelData.TryParse(bytes, out _, out _));
    }

    /// <summary>RFC 8489 §5, §6.2.2: a STUN Length that is not a multiple of 4 makes the stream unframeable.</summary>
    [Property(MaxTest = 300)]
    public Property Rfc8489_S5_stun_length_not_multiple_of_four_is_invalid() =>
        Prop.ForAll(Gens.Of(Gen.Choose(0, 3), Gens.UInt16).ToArbitrary(), t =>
        {
            (int first, ushort length) = t;
            byte[] header = new byte[StunConstants.HeaderLength];
            header[0] = (byte)first;
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), length);
            FrameStatus status = StunFraming.TryReadFrame(new ReadOnlySequence<byte>(header), out PacketKind kind, out int frameLength);
            Assert.Equal(PacketKind.Stun, kind);
            if ((length & 3) != 0)
            {
                Assert.Equal(FrameStatus.Invalid, status);
            }
            else
            {
                Assert.Equal(length == 0 ? FrameStatus.Complete : FrameStatus.Incomplete, status);
                Assert.Equal(StunConstants.HeaderLength + length, frameLength);
            }
        });

    /// <summary>
    /// Checklist 27, RFC 8656 §12.5: on a stream a ChannelData frame is 4 + Length rounded up to 4; until the padding has arrived
    /// it is Incomplete, for every Length 0-65535.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_5_channel_data_frame_includes_padding_for_every_length()
    {
        byte[] buffer = new byte[4 + 65536];
        for (int length = 0; length <= ushort.MaxValue; length++)
        {
            ChannelData.WriteHeader(buffer, (ushort)(0x4000 | (length & 0x0FFF)), length);
            int expected = 4 + ((length + 3) & ~3);
            Assert.Equal(expected, ChannelData.GetStreamFrameLength(length));
            Assert.Equal(FrameStatus.Complete, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(buffer, 0, expected), out PacketKind kind, out int frameLength));
            Assert.Equal(PacketKind.ChannelData, kind);
            Assert.Equal(expected, frameLength);
            Assert.Equal(FrameStatus.Incomplete, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(buffer, 0, expected - 1), out _, out _));
            if ((length & 3) != 0)
            {
                // The data is all there but its padding is not: still Incomplete on a stream.
                Assert.Equal(FrameStatus.Incomplete, StunFraming.TryReadFrame(new ReadOnlySequence<byte>(buffer, 0, 4 + length), out _, out _));
            }
        }
    }

    /// <summary>RFC 8656 §12.5, RFC 7983: after good frames, a byte that starts no known frame stops the framer with Invalid.</summary>
    [Theory]
    [InlineData(0x04)]
    [InlineData(0x16)] // a TLS record (RFC 7983 range 20-63)
    [InlineData(0x50)]
    [InlineData(0x80)] // RTP/RTCP (RFC 7983 range 128-191)
    [InlineData(0xFF)]
    public void Rfc7983_garbage_after_good_frames_is_invalid(int garbage)
    {
        byte[] stream = [.. Stream, (byte)garbage, 0, 0, 0];
        var remaining = new ReadOnlySequence<byte>(stream);
        int count = 0;
        FrameStatus status;
        while ((status = StunFraming.TryReadFrame(remaining, out _, out int length)) == FrameStatus.Complete)
        {
            remaining = remaining.Slice(length);
            count++;
        }

        Assert.Equal(Frames.Length, count);
        Assert.Equal(FrameStatus.Invalid, status);
        Assert.Equal(4, remaining.Length);
    }

    /// <summary>RFC 8489 §6.2.2: each STUN frame cut from the stream parses as the message that was written.</summary>
    [Fact]
    public void Rfc8489_S6_2_2_stun_frames_parse_and_channel_data_frames_decode()
    {
        foreach (Frame frame in Drain(Segments.Create(Stream.AsMemory(0, 7), Stream.AsMemory(7)), out _))
        {
            if (frame.Kind == PacketKind.Stun)
            {
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(frame.Bytes, out StunMessageReader reader));
                if (reader.HasFingerprint)
                {
                    Assert.True(reader.VerifyFingerprint());
                }
            }
            else
            {
                Assert.True(ChannelData.TryParse(frame.Bytes, out ushort channel, out ReadOnlySpan<byte> data));
                Assert.True(ChannelData.IsValidChannel(channel));
                Assert.Equal(frame.Bytes.Length, ChannelData.GetStreamFrameLength(data.Length));
            }
        }
    }

    private static List<Frame> Drain(ReadOnlySequence<byte> sequence, out int rest)
    {
        var frames = new List<Frame>();
        while (true)
        {
            FrameStatus status = StunFraming.TryReadFrame(sequence, out PacketKind kind, out int length);
            Assert.NotEqual(FrameStatus.Invalid, status);
            if (status == FrameStatus.Incomplete)
            {
                rest = (int)sequence.Length;
                return frames;
            }

            Assert.True(length > 0);
            frames.Add(new Frame(string.Empty, kind, sequence.Slice(0, length).ToArray()));
            sequence = sequence.Slice(length);
        }
    }

    private static void AssertFrames(Frame[] expected, List<Frame> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(expected[i].Kind == actual[i].Kind, $"frame {i} ({expected[i].Name}): kind {actual[i].Kind}");
            Assert.True(expected[i].Bytes.AsSpan().SequenceEqual(actual[i].Bytes), $"frame {i} ({expected[i].Name}): bytes differ");
        }
    }

    /// <summary>STUN messages of several sizes interleaved with ChannelData of every Length 0-7 (all paddings).</summary>
    private static Frame[] BuildFrames()
    {
        var frames = new List<Frame>();
        var id = TransactionId.Read(Enumerable.Range(100, 12).Select(i => (byte)i).ToArray());
        frames.Add(new Frame("bare Binding request", PacketKind.Stun,
            StunWire.Write((ref StunMessageWriter w) => { }, id)));
        for (int length = 0; length <= 7; length++)
        {
            frames.Add(ChannelDataFrame((ushort)(0x4000 + length), Enumerable.Range(1, length).Select(i => (byte)(i * 17)).ToArray(), padding: (byte)(length * 0x11)));
            byte[] data = Enumerable.Range(0, length * 37).Select(i => (byte)i).ToArray();
            frames.Add(new Frame($"Send indication with {data.Length} bytes", PacketKind.Stun,
                StunWire.Write((ref StunMessageWriter w) =>
                {
                    Assert.True(w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPv4([198, 51, 100, 7], 5000)));
                    Assert.True(w.AddAttribute(StunAttributeType.Data, data));
                }, id, new StunMessageType(StunMethod.Send, StunClass.Indication))));
        }

        frames.Add(ChannelDataFrame(0x4FFF, Enumerable.Range(0, 301).Select(i => (byte)(255 - i)).ToArray(), padding: 0));
        frames.Add(new Frame("Allocate request with integrity and fingerprint", PacketKind.Stun,
            StunWire.Write((ref StunMessageWriter w) =>
            {
                Assert.True(w.AddRequestedTransport(RequestedTransportValue.Udp));
                Assert.True(w.AddText(StunAttributeType.Username, "user"));
                Assert.True(w.AddText(StunAttributeType.Realm, "example.org"));
                Assert.True(w.AddText(StunAttributeType.Nonce, "nonce-nonce-nonce"));
                Assert.True(w.AddMessageIntegrity("key"u8));
                Assert.True(w.AddFingerprint());
            }, id, new StunMessageType(StunMethod.Allocate, StunClass.Request))));
        frames.Add(ChannelDataFrame(0x4ABC, [], padding: 0));
        return frames.ToArray();
    }

    /// <summary>RFC 8656 §12.4, §12.5: header, data, then padding to a multiple of 4 (its content is not looked at).</summary>
    private static Frame ChannelDataFrame(ushort channel, byte[] data, byte padding)
    {
        byte[] bytes = new byte[ChannelData.GetStreamFrameLength(data.Length)];
        ChannelData.WriteHeader(bytes, channel, data.Length);
        data.CopyTo(bytes, ChannelData.HeaderLength);
        bytes.AsSpan(ChannelData.HeaderLength + data.Length).Fill(padding);
        return new Frame($"ChannelData 0x{channel:x4} with {data.Length} bytes", PacketKind.ChannelData, bytes);
    }

    private sealed record Frame(string Name, PacketKind Kind, byte[] Bytes);
}

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/> values, as a pipe hands them out.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    /// <summary>One segment per chunk, in order; empty chunks become empty segments.</summary>
    public static ReadOnlySequence<byte> Create(params ReadOnlyMemory<byte>[] chunks)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        if (chunks.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segments(chunks[0], 0);
        Segments last = first;
        for (int i = 1; i < chunks.Length; i++)
        {
            var next = new Segments(chunks[i], last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}

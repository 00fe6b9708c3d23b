using System.Buffers.Binary;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>RFC 8489 §6.3, RFC 8656 §21.3.1: hostile input to the TURN engine never throws and never breaks its state.</summary>
public class HostileInputTests
{
    /// <summary>Checklist 135, RFC 8489 §6.3, RFC 8656 §21.3.1: random datagrams and ChannelData on a 5-tuple with a live allocation and channel.</summary>
    [Fact]
    public void Random_packets_never_throw_and_answers_are_well_formed()
    {
        var engine = new EngineHarness();
        engine.AllocateOk();
        engine.Send(Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }));
        var random = new Random(8656);
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        for (int i = 0; i < 20_000; i++)
        {
            byte[] packet = new byte[random.Next(0, 300)];
            random.NextBytes(packet);
            if (packet.Length >= 4 && i % 3 == 0)
            {
                packet[0] = (byte)(0x40 | (packet[0] & 0x0F));   // ChannelData, any channel in range
            }
            else if (packet.Length >= 20 && i % 3 == 1)
            {
                packet[0] &= 0x03;
                BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), (ushort)((packet.Length - 20) & ~3));
                BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), StunConstants.MagicCookie);
                packet = packet[..(20 + ((packet.Length - 20) & ~3))];
            }

            int length = engine.Processor.Process(packet, Client, engine.Transport, response);
            if (length > 0)
            {
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(response.AsSpan(0, length), out _));
            }
        }

        // The allocation still works.
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Request(StunMethod.Refresh))!.Class);
    }

    /// <summary>Checklist 135, RFC 8489 §6.3, RFC 8656 §21.3.1: every single-byte change of signed TURN requests is either refused or handled; nothing throws.</summary>
    [Fact]
    public void Mutated_turn_requests_never_throw()
    {
        var engine = new EngineHarness();
        engine.AllocateOk();
        byte[][] requests =
        [
            Allocate(),
            Request(StunMethod.CreatePermission, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)),
            Request(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4001);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, OtherPeer);
            }),
            Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(1200)),
            Request(StunMethod.Send, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
                w.AddAttribute(StunAttributeType.Data, [1, 2, 3]);
            }, user: null, cls: StunClass.Indication),
        ];

        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        foreach (byte[] request in requests)
        {
            for (int i = 0; i < request.Length; i++)
            {
                foreach (byte flip in new byte[] { 0x01, 0x80, 0xFF })
                {
                    byte[] mutated = (byte[])request.Clone();
                    mutated[i] ^= flip;
                    int length = engine.Processor.Process(mutated, Client, engine.Transport, response);
                    if (length > 0)
                    {
                        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(response.AsSpan(0, length), out _));
                    }
                }
            }
        }

        Assert.Equal(StunClass.SuccessResponse, engine.Send(Request(StunMethod.Refresh))!.Class);
    }
}

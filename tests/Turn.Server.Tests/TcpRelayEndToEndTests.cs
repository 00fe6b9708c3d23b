using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;
using Turn.Transports;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// TURN over TCP (RFC 8656 §5): the client talks to the server over one TCP connection, the relay to peers stays
/// UDP. Real sockets on loopback against an in-process server.
/// </summary>
public sealed class TcpRelayEndToEndTests(RelayServerFixture server) : IClassFixture<RelayServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private async Task<(TurnTestClient Client, TransportAddress Relayed)> AllocateAsync()
    {
        var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp: true);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(answer));
        Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));
        return (client, TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value);
    }

    private static async Task BindChannelAsync(TurnTestClient client, ushort channel, Socket peer)
    {
        byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(peer));
        });
        Assert.Null(TurnTestClient.ErrorCode(bind));
    }

    private static byte[] PaddedChannelData(ushort channel, byte[] payload)
    {
        byte[] frame = new byte[ChannelData.HeaderLength + ((payload.Length + 3) & ~3)];
        ChannelData.WriteHeader(frame, channel, payload.Length);
        payload.CopyTo(frame, ChannelData.HeaderLength);
        return frame;
    }

    /// <summary>
    /// RFC 8656 §12.5: over TCP, ChannelData is padded to a multiple of 4 both ways; the padding is not part of the
    /// data, so the peer gets exactly the payload, and the client gets a frame whose Length is the payload's.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S12_5_channel_data_over_tcp_is_padded_to_four_bytes_both_ways()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            await BindChannelAsync(client, 0x4001, peer);
            byte[] payload = new byte[99];
            Random.Shared.NextBytes(payload);

            await client.SendRawAsync(PaddedChannelData(0x4001, payload));
            var atPeer = await ReceiveFromAsync(peer, Wait);
            Assert.NotNull(atPeer);
            Assert.Equal(payload, atPeer.Value.Data);
            Assert.Equal(relayed, TransportAddress.FromIPEndPoint(atPeer.Value.From));

            await peer.SendToAsync(payload, relayed.ToIPEndPoint());
            byte[]? frame = await client.ReceiveAsync(Wait);
            Assert.NotNull(frame);
            Assert.Equal(104, frame.Length);
            Assert.Equal(0x4001, BinaryPrimitives.ReadUInt16BigEndian(frame));
            Assert.Equal(99, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2)));
            Assert.Equal(payload, frame[4..103]);
        }
    }

    /// <summary>Checklist 53, RFC 8656 §11: Send and Data indications travel on the TCP connection too.</summary>
    [Fact]
    public async Task Rfc8656_S11_send_and_data_indications_over_tcp()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            TransportAddress peerAddress = AddressOf(peer);
            byte[] permission = await client.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
            Assert.Null(TurnTestClient.ErrorCode(permission));
            byte[] payload = [1, 2, 3, 4, 5];
            await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
                w.AddAttribute(StunAttributeType.Data, payload);
            });
            var atPeer = await ReceiveFromAsync(peer, Wait);
            Assert.NotNull(atPeer);
            Assert.Equal(payload, atPeer.Value.Data);

            await peer.SendToAsync(new byte[] { 9, 8, 7 }, relayed.ToIPEndPoint());
            byte[]? data = await client.ReceiveAsync(Wait);
            Assert.NotNull(data);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(data, out StunMessageReader reader));
            Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
            Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute attribute));
            Assert.Equal(new byte[] { 9, 8, 7 }, attribute.Value.ToArray());
        }
    }

    /// <summary>
    /// An allocation made over a TCP connection is deleted when the connection closes: its 5-tuple is gone (RFC 8656
    /// §2), and its relay port is free again.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S2_closing_the_connection_deletes_its_allocation_and_frees_the_relay_port()
    {
        var ports = server.Services.GetRequiredService<RelayPortAllocatorSet>();
        var (client, _) = await AllocateAsync();
        long deleted = server.Counters.AllocationsDeleted;
        int portsInUse = ports.PortsInUse;
        Assert.True(portsInUse >= 1);

        client.Dispose();

        var watch = Stopwatch.StartNew();
        while (server.Counters.AllocationsDeleted == deleted && watch.Elapsed < Wait)
        {
            await Task.Delay(20);
        }

        Assert.True(server.Counters.AllocationsDeleted > deleted, "the allocation outlived its connection");
        Assert.True(ports.PortsInUse < portsInUse, "the relay port is still held");
    }

    /// <summary>
    /// A client that stops reading cannot make the server hold without bound what its peers send: beyond a fixed
    /// amount per connection, datagrams for it are dropped whole, so the stream stays framed. When the client reads
    /// again, every frame it gets is an intact ChannelData, and the server still answers it on the same connection.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S12_5_a_client_that_stops_reading_gets_whole_frames_dropped_not_unbounded_buffers()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            await BindChannelAsync(client, 0x4002, peer);
            byte[] payload = new byte[1000];
            for (int i = 0; i < payload.Length; i++)
            {
                payload[i] = (byte)(i * 7);
            }

            long droppedBefore = server.TransportCounters.StreamSendDropped;
            SocketAddress to = relayed.ToIPEndPoint().Serialize();
            var watch = Stopwatch.StartNew();
            for (int i = 0; i < 20_000 && server.TransportCounters.StreamSendDropped == droppedBefore && watch.Elapsed < TimeSpan.FromSeconds(20); i++)
            {
                peer.SendTo(payload, SocketFlags.None, to);
                if ((i & 31) == 31)
                {
                    Thread.Sleep(1);
                }
            }

            Assert.True(server.TransportCounters.StreamSendDropped > droppedBefore,
                "20,000 datagrams of 1,000 bytes for a client that reads nothing were all buffered");

            int frames = 0;
            while (await client.ReceiveAsync(TimeSpan.FromSeconds(1)) is { } frame)
            {
                Assert.Equal(0x4002, BinaryPrimitives.ReadUInt16BigEndian(frame));
                Assert.Equal(1000, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2)));
                Assert.Equal(payload, frame[4..1004]);
                frames++;
            }

            Assert.True(frames > 0, "nothing that was buffered reached the client");
            Assert.True(frames * 1004L < 8 * TcpStunListener.MaxBufferedBytesPerConnection + (8 << 20),
                $"{frames} frames were held for a client that read nothing");
            byte[] refresh = await client.RequestAsync(StunMethod.Refresh);
            Assert.Null(TurnTestClient.ErrorCode(refresh));
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;
using Turn.Transports;
using static Turn.Server.Tests.PeerSockets;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>
/// A relay-only client gets a relayed address and its data reaches a peer and comes back, over real UDP sockets
/// on loopback (RFC 8656 §7, §10, §11, §12). Runs once per UDP serving mode (see the classes below).
/// </summary>
public abstract class RelayEndToEndTestsBase<TFixture>(TFixture server) : IClassFixture<TFixture>
    where TFixture : RelayServerFixture
{
    /// <summary>Whether the server under test serves UDP with batched system calls.</summary>
    protected abstract bool Batched { get; }

    private async Task<(TurnTestClient Client, TransportAddress Relayed)> AllocateAsync()
    {
        var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(answer));
        TransportAddress relayed = TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value;
        Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.True(reader.VerifyMessageIntegrity(client.Key!));
        return (client, relayed);
    }

    /// <summary>RFC 8656 §7.2: the relayed address is on the relay IP, in the relay port range.</summary>
    [Fact]
    public async Task Rfc8656_S7_2_allocate_gives_a_relayed_address_on_the_relay_ip()
    {
        var (client, relayed) = await AllocateAsync();
        using (client)
        {
            Assert.Equal(IPAddress.Loopback, relayed.ToIPAddress());
            Assert.InRange(relayed.Port, 49152, 65535);
        }
    }

    /// <summary>
    /// Checklist 53, RFC 8656 §10, §11.2, §11.3: after CreatePermission a Send indication reaches the peer from the relayed
    /// address, and the peer's answer comes back to the client as a Data indication.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S11_send_and_data_indications_round_trip()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            TransportAddress peerAddress = AddressOf(peer);
            byte[] permission = await client.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
            Assert.Null(TurnTestClient.ErrorCode(permission));

            byte[] payload = "hello peer"u8.ToArray();
            await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
                w.AddAttribute(StunAttributeType.Data, payload);
            });
            var received = await ReceiveFromAsync(peer, AnswerTimeout);
            Assert.NotNull(received);
            Assert.Equal(payload, received.Value.Data);
            Assert.Equal(relayed.ToIPEndPoint(), received.Value.From);

            byte[] reply = "hello client"u8.ToArray();
            await peer.SendToAsync(reply, relayed.ToIPEndPoint());
            byte[]? indication = await ReceiveUdpAsync(client.Socket, AnswerTimeout);
            Assert.NotNull(indication);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(indication, out StunMessageReader reader));
            Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
            Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute from));
            Assert.True(XorAddressValue.TryRead(from.Value, reader.Header.TransactionId, out TransportAddress fromAddress));
            Assert.Equal(peerAddress, fromAddress);
            Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute data));
            Assert.Equal(reply, data.Value.ToArray());
        }
    }

    /// <summary>RFC 8656 §12: after ChannelBind, ChannelData flows both ways with the 4-byte header only.</summary>
    [Fact]
    public async Task Rfc8656_S12_channel_data_round_trip()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            TransportAddress peerAddress = AddressOf(peer);
            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4321);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            });
            Assert.Null(TurnTestClient.ErrorCode(bind));

            byte[] payload = new byte[1000];
            Random.Shared.NextBytes(payload);
            byte[] channelData = new byte[4 + payload.Length];
            ChannelData.WriteHeader(channelData, 0x4321, payload.Length);
            payload.CopyTo(channelData, 4);
            await client.Socket.SendAsync(channelData);
            var received = await ReceiveFromAsync(peer, AnswerTimeout);
            Assert.NotNull(received);
            Assert.Equal(payload, received.Value.Data);

            await peer.SendToAsync(payload.AsMemory(0, 333), relayed.ToIPEndPoint());
            byte[]? back = await ReceiveUdpAsync(client.Socket, AnswerTimeout);
            Assert.NotNull(back);
            Assert.True(ChannelData.TryParse(back, out ushort number, out ReadOnlySpan<byte> data));
            Assert.Equal(0x4321, number);
            Assert.Equal(payload[..333], data.ToArray());
        }
    }

    /// <summary>Checklist 132, RFC 8656 §9, §11.3: a peer without a permission cannot reach the client through the relayed address.</summary>
    [Fact]
    public async Task Rfc8656_S9_peer_without_permission_cannot_reach_the_client()
    {
        var (client, relayed) = await AllocateAsync();
        using Socket stranger = Peer();
        using (client)
        {
            await stranger.SendToAsync("let me in"u8.ToArray(), relayed.ToIPEndPoint());
            Assert.Null(await ReceiveUdpAsync(client.Socket, TimeSpan.FromMilliseconds(500)));
        }
    }

    /// <summary>RFC 8656 §8.2: Refresh with LIFETIME 0 deletes the allocation; later requests get 437.</summary>
    [Fact]
    public async Task Rfc8656_S8_2_refresh_zero_deletes()
    {
        var (client, _) = await AllocateAsync();
        using (client)
        {
            byte[] deleted = await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0));
            Assert.Null(TurnTestClient.ErrorCode(deleted));
            byte[] again = await client.RequestAsync(StunMethod.Refresh);
            Assert.Equal(StunErrorCode.AllocationMismatch, TurnTestClient.ErrorCode(again));
        }
    }

    /// <summary>RFC 8489 §9.2.4: a wrong password never gets an allocation.</summary>
    [Fact]
    public async Task Rfc8489_S9_2_4_wrong_password_is_refused()
    {
        using var client = new TurnTestClient(server.V4, RelayServerFixture.User, "not-the-password");
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Equal(StunErrorCode.Unauthenticated, TurnTestClient.ErrorCode(answer));
    }

    /// <summary>
    /// Regression, RFC 8656 §8.2, §12.6: a client streams ChannelData and deletes its allocation with a Refresh of
    /// LIFETIME 0 right behind it, from the same socket without waiting, so the server takes data and Refresh in one
    /// receive batch and the thread that queued datagrams for the relay socket closes it itself. The server must answer
    /// the Refresh and go on answering that client and a new one, and the ChannelData handled before the Refresh
    /// must have reached the peer.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S8_2_refresh_zero_right_behind_a_channel_data_burst_leaves_the_server_answering()
    {
        const int Burst = 50;
        var (client, _) = await AllocateAsync();
        using Socket peer = Peer();
        using (client)
        {
            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4000);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(peer));
            });
            Assert.Null(TurnTestClient.ErrorCode(bind));

            byte[] payload = new byte[100];
            Random.Shared.NextBytes(payload);
            byte[] channelData = new byte[ChannelData.HeaderLength + payload.Length];
            ChannelData.WriteHeader(channelData, 0x4000, payload.Length);
            payload.CopyTo(channelData, ChannelData.HeaderLength);
            for (int i = 0; i < Burst; i++)
            {
                client.Socket.Send(channelData);
            }

            byte[] deleted = await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0));
            Assert.Null(TurnTestClient.ErrorCode(deleted));

            var id = TransactionId.NewRandom();
            byte[]? again = await ExchangeUdpAsync(client.Socket, BindingRequest(id));
            Assert.NotNull(again);
            Assert.Equal(id, Decode(again).TransactionId);
            using (Socket newcomer = UdpSocket(server.V4))
            {
                var newcomerId = TransactionId.NewRandom();
                byte[]? answer = await ExchangeUdpAsync(newcomer, BindingRequest(newcomerId));
                Assert.NotNull(answer);
                Assert.Equal(newcomerId, Decode(answer).TransactionId);
            }

            int relayed = 0;
            while (relayed <= Burst && await ReceiveFromAsync(peer, TimeSpan.FromMilliseconds(500)) is { } datagram)
            {
                Assert.Equal(payload, datagram.Data);
                relayed++;
            }

            Assert.InRange(relayed, 1, Burst);
        }
    }

    [Fact]
    public void Udp_serving_mode_is_the_one_this_class_tests()
    {
        Assert.Equal(Batched, server.Services.GetRequiredService<UdpIoSetup>().IsBatched);
    }
}

/// <summary>The relay end-to-end tests in the default UDP mode: batched system calls on 64-bit Linux.</summary>
public sealed class RelayEndToEndTests(RelayServerFixture server) : RelayEndToEndTestsBase<RelayServerFixture>(server)
{
    protected override bool Batched => UdpBatching.IsSupported;
}

/// <summary>The relay end-to-end tests with --udp-io sockets: the portable .NET socket loops.</summary>
public sealed class RelayEndToEndSocketsModeTests(SocketsRelayServerFixture server) : RelayEndToEndTestsBase<SocketsRelayServerFixture>(server)
{
    protected override bool Batched => false;
}

/// <summary>RFC 8656 §21.2.2: with the default policy, a loopback peer is refused with 403.</summary>
public class DefaultPeerPolicyEndToEndTests(DefaultPolicyRelayServerFixture server) : IClassFixture<DefaultPolicyRelayServerFixture>
{
    [Fact]
    public async Task Rfc8656_S21_loopback_peer_is_forbidden_by_default()
    {
        using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] allocate = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(allocate));
        byte[] permission = await client.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPAddress(IPAddress.Loopback, 9)));
        Assert.Equal(StunErrorCode.Forbidden, TurnTestClient.ErrorCode(permission));
        byte[] metadata = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPAddress(IPAddress.Parse("169.254.169.254"), 80));
        });
        Assert.Equal(StunErrorCode.Forbidden, TurnTestClient.ErrorCode(metadata));
    }
}

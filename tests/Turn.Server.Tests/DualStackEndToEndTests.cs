using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using Turn.Transports;
using static Turn.Server.Tests.PeerSockets;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>
/// IPv6 and dual allocations over real sockets: a server relaying on 127.0.0.1 and ::1, clients over IPv4 and IPv6,
/// peers of both families (RFC 8656 §7.2 items 7 and 9, §8.1, §10.1, §11, §12). Runs once per UDP serving mode.
/// </summary>
public abstract class DualStackEndToEndTestsBase<TFixture>(TFixture server) : IClassFixture<TFixture>
    where TFixture : DualStackRelayServerFixture
{
    private static Socket Peer6()
    {
        var peer = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        return peer;
    }

    private static List<TransportAddress> RelayedAddresses(byte[] answer)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        var addresses = new List<TransportAddress>();
        foreach (StunAttribute attribute in reader.Attributes)
        {
            if (attribute.Type == (ushort)StunAttributeType.XorRelayedAddress)
            {
                Assert.True(XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress address));
                addresses.Add(address);
            }
        }

        return addresses;
    }

    /// <summary>An Allocate asking for IPv6 with <paramref name="familyAttribute"/> (REQUESTED- or ADDITIONAL-ADDRESS-FAMILY).</summary>
    private static Task<byte[]> AllocateIpv6Async(TurnTestClient client, StunAttributeType familyAttribute) =>
        client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) =>
        {
            w.AddRequestedTransport(17);
            w.AddAddressFamily(familyAttribute, StunAddressFamily.IPv6);
        });

    private static async Task PermitAsync(TurnTestClient client, TransportAddress peer, int? expectedError = null)
    {
        byte[] answer = await client.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer));
        Assert.Equal(expectedError, TurnTestClient.ErrorCode(answer));
    }

    private static async Task SendAsync(TurnTestClient client, TransportAddress peer, byte[] payload) =>
        await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            w.AddAttribute(StunAttributeType.Data, payload);
        });

    /// <summary>The next Data indication's peer address and data, or null when none comes.</summary>
    private static async Task<(TransportAddress Peer, byte[] Data)?> DataIndicationAsync(TurnTestClient client, TimeSpan timeout)
    {
        byte[]? message = await ReceiveUdpAsync(client.Socket, timeout);
        if (message is null)
        {
            return null;
        }

        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute from));
        Assert.True(XorAddressValue.TryRead(from.Value, reader.Header.TransactionId, out TransportAddress peer));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute data));
        return (peer, data.Value.ToArray());
    }

    private static async Task AssertRoundTripAsync(TurnTestClient client, Socket peer, TransportAddress relayed, string text)
    {
        TransportAddress peerAddress = AddressOf(peer);
        byte[] payload = System.Text.Encoding.UTF8.GetBytes(text);
        await SendAsync(client, peerAddress, payload);
        var received = await ReceiveFromAsync(peer, AnswerTimeout);
        Assert.NotNull(received);
        Assert.Equal(payload, received.Value.Data);
        Assert.Equal(relayed.ToIPEndPoint(), received.Value.From);

        await peer.SendToAsync(payload, relayed.ToIPEndPoint());
        var indication = await DataIndicationAsync(client, AnswerTimeout);
        Assert.NotNull(indication);
        Assert.Equal(peerAddress, indication.Value.Peer);
        Assert.Equal(payload, indication.Value.Data);
    }

    /// <summary>
    /// RFC 8656 §7.2 item 9, §10.1: ADDITIONAL-ADDRESS-FAMILY over IPv4 gets an IPv4 and an IPv6 relayed address; peers of
    /// each family are reached from the relayed address of their family, and answer through it.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S7_2_item9_dual_allocation_relays_to_ipv4_and_ipv6_peers()
    {
        using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
        using Socket peer4 = Peer();
        using Socket peer6 = Peer6();
        byte[] answer = await AllocateIpv6Async(client, StunAttributeType.AdditionalAddressFamily);
        Assert.Null(TurnTestClient.ErrorCode(answer));
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
        Assert.False(reader.TryGetAttribute(StunAttributeType.AddressErrorCode, out _));
        List<TransportAddress> relayed = RelayedAddresses(answer);
        Assert.Equal(2, relayed.Count);
        Assert.Equal(IPAddress.Loopback, relayed[0].ToIPAddress());
        Assert.Equal(IPAddress.IPv6Loopback, relayed[1].ToIPAddress());
        Assert.All(relayed, r => Assert.InRange(r.Port, 49152, 65535));

        await PermitAsync(client, AddressOf(peer4));
        await PermitAsync(client, AddressOf(peer6));
        await AssertRoundTripAsync(client, peer4, relayed[0], "to the IPv4 peer");
        await AssertRoundTripAsync(client, peer6, relayed[1], "to the IPv6 peer");

        // RFC 8656 §12: a channel to the IPv6 peer carries ChannelData both ways.
        const ushort channel = 0x4321;
        byte[] bound = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(peer6));
        });
        Assert.Null(TurnTestClient.ErrorCode(bound));
        byte[] frame = new byte[ChannelData.HeaderLength + 3];
        ChannelData.WriteHeader(frame, channel, 3);
        frame[4] = 7;
        frame[5] = 8;
        frame[6] = 9;
        await client.SendRawAsync(frame);
        var received = await ReceiveFromAsync(peer6, AnswerTimeout);
        Assert.NotNull(received);
        Assert.Equal(new byte[] { 7, 8, 9 }, received.Value.Data);
        await peer6.SendToAsync(new byte[] { 1, 2 }, relayed[1].ToIPEndPoint());
        byte[]? back = await ReceiveUdpAsync(client.Socket, AnswerTimeout);
        Assert.NotNull(back);
        Assert.True(ChannelData.TryParse(back, false, out ushort number, out ReadOnlySpan<byte> data));
        Assert.Equal(channel, number);
        Assert.Equal(new byte[] { 1, 2 }, data.ToArray());
    }

    /// <summary>
    /// RFC 8656 §7.2 item 7, §10.2: a client over IPv6 asks for an IPv6 relayed address (REQUESTED-ADDRESS-FAMILY); it
    /// relays to IPv6 peers, and an IPv4 peer gets 443.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S7_2_item7_ipv6_client_gets_an_ipv6_relayed_address()
    {
        using var client = new TurnTestClient(server.V6, RelayServerFixture.User, RelayServerFixture.Password);
        using Socket peer4 = Peer();
        using Socket peer6 = Peer6();
        byte[] answer = await AllocateIpv6Async(client, StunAttributeType.RequestedAddressFamily);
        Assert.Null(TurnTestClient.ErrorCode(answer));
        TransportAddress relayed = Assert.Single(RelayedAddresses(answer));
        Assert.Equal(IPAddress.IPv6Loopback, relayed.ToIPAddress());
        Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));

        await PermitAsync(client, AddressOf(peer4), StunErrorCode.PeerAddressFamilyMismatch);
        await PermitAsync(client, AddressOf(peer6));
        await AssertRoundTripAsync(client, peer6, relayed, "over IPv6 all the way");
    }

    /// <summary>A port on the loopback of <paramref name="family"/> that nothing listens on (bound, then closed).</summary>
    /// <summary>
    /// RFC 8656 §11.5, §18.13 (checklist 105, 106): a datagram relayed to a closed port draws an ICMP port unreachable,
    /// which reaches the client as a Data indication with XOR-PEER-ADDRESS (the peer it was sent to) and ICMP (IPv4 type
    /// 3 code 3; ICMPv6 type 1 code 4), without DATA, even on a bound channel.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S11_5_icmp_port_unreachable_reaches_the_client_as_a_data_indication()
    {
        using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] answer = await AllocateIpv6Async(client, StunAttributeType.AdditionalAddressFamily);
        Assert.Equal(2, RelayedAddresses(answer).Count);
        TransportAddress closed4 = ClosedPort(AddressFamily.InterNetwork);
        TransportAddress closed6 = ClosedPort(AddressFamily.InterNetworkV6);
        await PermitAsync(client, closed4);
        const ushort channel = 0x4777;
        byte[] bound = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, closed6);
        });
        Assert.Null(TurnTestClient.ErrorCode(bound));

        foreach (var (peer, type, code) in new[] { (closed4, (byte)3, (byte)3), (closed6, (byte)1, (byte)4) })
        {
            await SendAsync(client, peer, [1, 2, 3]);
            byte[]? message = await ReceiveUdpAsync(client.Socket, AnswerTimeout);
            Assert.NotNull(message);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
            Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
            Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute from));
            Assert.True(XorAddressValue.TryRead(from.Value, reader.Header.TransactionId, out TransportAddress fromAddress));
            Assert.Equal(peer, fromAddress);
            Assert.True(reader.TryGetAttribute(StunAttributeType.Icmp, out StunAttribute icmp));
            Assert.True(IcmpValue.TryRead(icmp.Value, out byte icmpType, out byte icmpCode, out uint errorData));
            Assert.Equal((type, code, 0u), (icmpType, icmpCode, errorData));
            Assert.False(reader.TryGetAttribute(StunAttributeType.Data, out _));
        }
    }

    /// <summary>
    /// RFC 8656 §8.1: a Refresh with REQUESTED-ADDRESS-FAMILY IPv6 and LIFETIME 0 closes the IPv6 relayed address of a
    /// dual allocation; the IPv4 one goes on relaying.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S8_1_deleting_the_ipv6_half_keeps_the_ipv4_half()
    {
        using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
        using Socket peer4 = Peer();
        using Socket peer6 = Peer6();
        byte[] answer = await AllocateIpv6Async(client, StunAttributeType.AdditionalAddressFamily);
        List<TransportAddress> relayed = RelayedAddresses(answer);
        Assert.Equal(2, relayed.Count);
        await PermitAsync(client, AddressOf(peer4));
        await PermitAsync(client, AddressOf(peer6));

        byte[] refreshed = await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) =>
        {
            w.AddLifetime(0);
            w.AddAddressFamily(StunAttributeType.RequestedAddressFamily, StunAddressFamily.IPv6);
        });
        Assert.Null(TurnTestClient.ErrorCode(refreshed));

        // The IPv6 relay port is closed: nothing from the IPv6 peer reaches the client; the IPv4 half still relays.
        await peer6.SendToAsync(new byte[] { 6 }, relayed[1].ToIPEndPoint());
        Assert.Null(await DataIndicationAsync(client, TimeSpan.FromMilliseconds(300)));
        await AssertRoundTripAsync(client, peer4, relayed[0], "the IPv4 half lives on");
        await PermitAsync(client, AddressOf(peer6), StunErrorCode.PeerAddressFamilyMismatch);
    }
}

public sealed class DualStackEndToEndTests(DualStackRelayServerFixture server) : DualStackEndToEndTestsBase<DualStackRelayServerFixture>(server);

public sealed class DualStackEndToEndSocketsModeTests(SocketsDualStackRelayServerFixture server)
    : DualStackEndToEndTestsBase<SocketsDualStackRelayServerFixture>(server);

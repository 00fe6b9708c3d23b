using System.Net;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// RFC 8656 §21.2.2, §21.4 (checklist 97, 98, 134) end to end, with the default peer policy: every category of address a
/// relay must not reach, and every IPv6 form that embeds an IPv4 address, is refused through each way a client names a
/// peer (CreatePermission and ChannelBind get 403, Send indications are dropped, RFC 6062 Connect gets 403), on IPv4
/// and IPv6 allocations over UDP and TCP; nothing reaches a local listener, and the server keeps answering.
/// </summary>
public sealed class PeerAddressBatteryTests(DefaultPolicyDualStackServerFixture server) : IClassFixture<DefaultPolicyDualStackServerFixture>
{
    /// <summary>One address of each denied category of IPv4 (RFC 6890 and the cloud metadata services).</summary>
    public static readonly string[] DeniedV4 =
    [
        "0.0.0.0", "0.1.2.3", "127.0.0.1", "127.255.255.254", "169.254.1.1", "169.254.169.254", "100.100.100.200", "168.63.129.16",
        "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.1", "192.88.99.1", "10.1.2.3", "172.16.0.1",
        "172.31.255.255", "192.168.1.1", "100.64.0.1", "198.18.0.1", "192.0.2.1", "198.51.100.1", "203.0.113.1",
    ];

    /// <summary>One address of each denied category of IPv6, and IPv6 forms that embed a denied IPv4 address.</summary>
    public static readonly string[] DeniedV6 =
    [
        "::", "::1", "fe80::1", "fd00:ec2::254", "ff02::1", "ff0e::1", "2001::1", "2001:0:7f00:1::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
        "fc00::1", "fd12:3456::1", "fec0::1", "2001:db8::1", "3fff::1", "2001:2::1", "100::1", "5f00::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0:7f00:1", "::7f00:1", "::a9fe:a9fe",
        "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b::c0a8:101", "64:ff9b:1::a00:1",
    ];

    private static TransportAddress Peer(string ip) => TransportAddress.FromIPAddress(IPAddress.Parse(ip), 3478);

    private async Task<TurnTestClient> AllocateAsync(StunAddressFamily family, bool tcp, byte transport = RequestedTransportValue.Udp)
    {
        var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) =>
        {
            w.AddRequestedTransport(transport);
            if (family == StunAddressFamily.IPv6)
            {
                w.AddAttribute(StunAttributeType.RequestedAddressFamily, [0x02, 0, 0, 0]);
            }
        });
        Assert.Null(TurnTestClient.ErrorCode(answer));
        return client;
    }

    [Theory]
    [InlineData(StunAddressFamily.IPv4, false)]
    [InlineData(StunAddressFamily.IPv4, true)]
    [InlineData(StunAddressFamily.IPv6, false)]
    [InlineData(StunAddressFamily.IPv6, true)]
    public async Task Rfc8656_S21_every_denied_peer_is_refused_by_permission_channel_and_send(StunAddressFamily family, bool tcp)
    {
        using TurnTestClient client = await AllocateAsync(family, tcp);
        string[] denied = family == StunAddressFamily.IPv4 ? DeniedV4 : DeniedV6;
        long refusedBefore = server.Counters.PeersRefused;
        long sentBefore = server.TransportCounters.RelayedToPeer;
        ushort channel = 0x4000;
        foreach (string ip in denied)
        {
            TransportAddress peer = Peer(ip);
            byte[] permission = await client.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peer));
            Assert.True(TurnTestClient.ErrorCode(permission) == StunErrorCode.Forbidden, $"CreatePermission to {ip} was not refused with 403");
            ushort number = channel++;
            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(number);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
            });
            Assert.True(TurnTestClient.ErrorCode(bind) == StunErrorCode.Forbidden, $"ChannelBind to {ip} was not refused with 403");
            await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
                w.AddAttribute(StunAttributeType.Data, [1, 2, 3]);
            });
        }

        // The Send indications are dropped (no permission can exist for these peers): nothing left the relay.
        Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh)));
        Assert.Equal(sentBefore, server.TransportCounters.RelayedToPeer);
        Assert.True(server.Counters.PeersRefused - refusedBefore >= 2 * denied.Length);
    }

    /// <summary>RFC 6062 §5.2 (checklist 143): Connect to a denied peer gets 403 and opens no connection.</summary>
    [Theory]
    [InlineData(StunAddressFamily.IPv4)]
    [InlineData(StunAddressFamily.IPv6)]
    public async Task Rfc6062_S5_2_connect_to_every_denied_peer_is_refused(StunAddressFamily family)
    {
        using TurnTestClient control = await AllocateAsync(family, tcp: true, RequestedTransportValue.Tcp);
        string[] denied = family == StunAddressFamily.IPv4 ? DeniedV4 : DeniedV6;
        foreach (string ip in denied)
        {
            byte[] connect = await control.RequestAsync(StunMethod.Connect,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer(ip)));
            Assert.True(TurnTestClient.ErrorCode(connect) == StunErrorCode.Forbidden, $"Connect to {ip} was not refused with 403");
        }

        Assert.Null(TurnTestClient.ErrorCode(await control.RequestAsync(StunMethod.Refresh)));
    }
}

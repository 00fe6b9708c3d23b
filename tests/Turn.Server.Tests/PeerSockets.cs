using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>A peer of the relay in the end-to-end tests: a UDP socket on 127.0.0.1.</summary>
internal static class PeerSockets
{
    public static Socket Peer()
    {
        var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return peer;
    }

    public static TransportAddress AddressOf(Socket socket) => TransportAddress.FromIPEndPoint((IPEndPoint)socket.LocalEndPoint!);

    /// <summary>A loopback UDP port that was bound and closed again: what is sent there draws ICMP port unreachable.</summary>
    public static TransportAddress ClosedPort(AddressFamily family = AddressFamily.InterNetwork)
    {
        using var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback : IPAddress.Loopback, 0));
        return AddressOf(socket);
    }

    /// <summary>One datagram and its sender, or null when none arrives within <paramref name="timeout"/>.</summary>
    public static async Task<(byte[] Data, IPEndPoint From)?> ReceiveFromAsync(Socket socket, TimeSpan timeout)
    {
        byte[] buffer = new byte[65536];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            IPAddress any = socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
            SocketReceiveFromResult result = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(any, 0), cts.Token);
            return (buffer[..result.ReceivedBytes], (IPEndPoint)result.RemoteEndPoint);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>An allocation relays both ways (RFC 8656 §11) to a fresh peer, and refreshes (§8).</summary>
    public static async Task AssertRelaysAsync(TurnTestClient client, TransportAddress relayed, TimeSpan wait)
    {
        ArgumentNullException.ThrowIfNull(client);
        using Socket peer = Peer();
        TransportAddress peerAddress = AddressOf(peer);
        Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.CreatePermission,
            (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress))));
        await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            w.AddAttribute(StunAttributeType.Data, [1, 2, 3]);
        });
        Assert.NotNull(await ReceiveFromAsync(peer, wait));
        await peer.SendToAsync(new byte[] { 4, 5, 6 }, relayed.ToIPEndPoint());
        Assert.NotNull(await client.ReceiveAsync(wait));
        Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh)));
    }
}

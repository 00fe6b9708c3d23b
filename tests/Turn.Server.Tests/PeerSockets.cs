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
}

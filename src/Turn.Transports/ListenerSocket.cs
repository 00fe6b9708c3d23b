using System.Net;
using System.Net.Sockets;

namespace Turn.Transports;

/// <summary>Creates and binds the listening sockets of both transports the same way.</summary>
internal static class ListenerSocket
{
    // Linux values of SOL_SOCKET and SO_REUSEPORT (asm-generic/socket.h); .NET has no named option for it.
    private const int SolSocket = 1;
    private const int SoReuseAddress = 2;
    private const int SoReusePort = 15;

    /// <summary>
    /// One socket per address family: an IPv6 socket never takes IPv4 traffic (no ::ffff: client addresses), so
    /// 0.0.0.0 and :: can listen side by side on one port.
    /// </summary>
    public static Socket Bind(IPEndPoint endPoint, SocketType socketType, ProtocolType protocolType) =>
        Bind(endPoint, socketType, protocolType, reusePort: false);

    /// <summary>
    /// Fails with <see cref="SocketError.AddressAlreadyInUse"/> when a UDP socket of any program holds
    /// <paramref name="endPoint"/> (port 0: nothing to check). A SO_REUSEPORT group would otherwise be joined, not
    /// refused, by a second server started on the same port by the same user, and the kernel would split clients
    /// between the two.
    /// </summary>
    public static void EnsureUdpPortFree(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (endPoint.Port == 0)
        {
            return;
        }

        using var probe = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            probe.DualMode = false;
        }

        probe.Bind(endPoint);
    }

    /// <summary>
    /// As above; with <paramref name="reusePort"/> the socket joins a SO_REUSEPORT group, so several sockets share
    /// one address and port and the kernel spreads clients over them by their address (one client, one socket).
    /// </summary>
    public static Socket Bind(IPEndPoint endPoint, SocketType socketType, ProtocolType protocolType, bool reusePort)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, socketType, protocolType);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            if (socketType == SocketType.Stream)
            {
                // A restarted server must be able to listen again while old connections sit in TIME_WAIT. On Linux the
                // plain SO_REUSEADDR: .NET's ReuseAddress also sets SO_REUSEPORT there, which would let a second server
                // listen on the same port and take half the connections instead of failing to start.
                if (OperatingSystem.IsLinux())
                {
                    socket.SetRawSocketOption(SolSocket, SoReuseAddress, BitConverter.GetBytes(1));
                }
                else
                {
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                }
            }

            if (reusePort)
            {
                socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            }

            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

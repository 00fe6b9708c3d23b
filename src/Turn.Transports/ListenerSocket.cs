using System.Net;
using System.Net.Sockets;

namespace Turn.Transports;

/// <summary>Creates and binds the listening sockets of both transports the same way.</summary>
internal static class ListenerSocket
{
    /// <summary>
    /// One socket per address family: an IPv6 socket never takes IPv4 traffic (no ::ffff: client addresses), so
    /// 0.0.0.0 and :: can listen side by side on one port.
    /// </summary>
    public static Socket Bind(IPEndPoint endPoint, SocketType socketType, ProtocolType protocolType)
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
                // A restarted server must be able to listen again while old connections sit in TIME_WAIT.
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
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

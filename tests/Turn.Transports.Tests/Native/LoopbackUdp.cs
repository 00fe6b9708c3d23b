using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Transports.Tests.Native;

/// <summary>Real UDP sockets on loopback for the batched-path tests, and the raw sockaddr form the system calls take.</summary>
internal static class LoopbackUdp
{
    /// <summary>The longest any single wait in these tests may take.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(5);

    /// <summary>A socket bound to <paramref name="address"/> (127.0.0.1 or ::1) on a free port.</summary>
    public static Socket Bind(IPAddress address)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = false;
            }

            socket.Bind(new IPEndPoint(address, 0));
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static IPEndPoint EndPointOf(Socket socket) => (IPEndPoint)socket.LocalEndPoint!;

    public static TransportAddress AddressOf(Socket socket) => TransportAddress.FromIPEndPoint(EndPointOf(socket));

    /// <summary>The descriptor, for the calls that take one; valid while <paramref name="socket"/> is open.</summary>
    public static int Fd(Socket socket) => (int)socket.SafeHandle.DangerousGetHandle();

    /// <summary>
    /// sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) as Linux lays them out, written here by hand so the tests do
    /// not depend on the conversions under test: family in host order, port in network order, then the address.
    /// </summary>
    public static byte[] RawAddress(IPEndPoint endPoint)
    {
        bool ipv6 = endPoint.AddressFamily == AddressFamily.InterNetworkV6;
        byte[] raw = new byte[ipv6 ? 28 : 16];
        BinaryPrimitives.WriteUInt16LittleEndian(raw, ipv6 ? (ushort)10 : (ushort)2);
        BinaryPrimitives.WriteUInt16BigEndian(raw.AsSpan(2), (ushort)endPoint.Port);
        endPoint.Address.GetAddressBytes().CopyTo(raw, ipv6 ? 8 : 4);
        return raw;
    }

    /// <summary>One datagram and its sender, or null when none arrives within <paramref name="timeout"/>.</summary>
    public static (byte[] Data, IPEndPoint From)? Receive(Socket socket, TimeSpan timeout)
    {
        if (!socket.Poll(timeout, SelectMode.SelectRead))
        {
            return null;
        }

        byte[] buffer = new byte[65536];
        EndPoint from = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        int length = socket.ReceiveFrom(buffer, ref from);
        return (buffer[..length], (IPEndPoint)from);
    }

    /// <summary>One datagram, failing the test when none arrives in time.</summary>
    public static (byte[] Data, IPEndPoint From) ReceiveOne(Socket socket)
    {
        var received = Receive(socket, WaitLimit);
        Assert.True(received.HasValue, $"no datagram reached {socket.LocalEndPoint} within {WaitLimit.TotalSeconds} s");
        return received.Value;
    }

    /// <summary>
    /// Waits until datagrams just sent over loopback sit in <paramref name="socket"/>'s queue. Loopback delivers in the
    /// sender's system call in practice; the short pause covers a softirq deferred to another CPU under load.
    /// </summary>
    public static void WaitQueued(Socket socket)
    {
        Assert.True(socket.Poll(WaitLimit, SelectMode.SelectRead), $"nothing reached {socket.LocalEndPoint}");
        Thread.Sleep(50);
    }

    /// <summary>Distinct recognisable bytes: <paramref name="length"/> bytes counting up from <paramref name="seed"/>.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(seed + (i * 7));
        }

        return bytes;
    }
}

using System.Net.Sockets;
using System.Runtime.InteropServices;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Native;

/// <summary>
/// ICMP errors about what a relay socket sent (RFC 8656 §11.5). With IP_RECVERR / IPV6_RECVERR set, Linux queues each
/// ICMP error on the socket's error queue, with the original destination (the peer) as the message name and a
/// sock_extended_err (origin, ICMP type and code, MTU) as ancillary data; a receive on the socket then fails once, which
/// is the cue to read the queue with MSG_ERRQUEUE. The queue must be read: while it holds anything, epoll keeps
/// reporting the socket. Nothing here allocates.
/// </summary>
internal static unsafe class IcmpErrorQueue
{
    private const int MsgErrorQueue = 0x2000;
    private const int LevelIp = 0;
    private const int IpRecvError = 11;
    private const int LevelIpv6 = 41;
    private const int Ipv6RecvError = 25;
    private const byte OriginIcmp = 2;
    private const byte OriginIcmp6 = 3;

    /// <summary>Reports read per wake-up at most, so a flood of ICMP cannot hold a relay thread.</summary>
    private const int MaxReportsPerWakeUp = 64;

    /// <summary>Whether relay sockets get ICMP errors here: Linux, with the 64-bit message layouts.</summary>
    public static bool IsSupported => LinuxSockets.IsSupported;

    /// <summary>Asks the kernel to queue ICMP errors on <paramref name="socket"/> (a no-op where unsupported).</summary>
    public static void Enable(Socket socket)
    {
        if (!IsSupported)
        {
            return;
        }

        ReadOnlySpan<byte> on = [1, 0, 0, 0];
        if (socket.AddressFamily == AddressFamily.InterNetworkV6)
        {
            socket.SetRawSocketOption(LevelIpv6, Ipv6RecvError, on);
        }
        else
        {
            socket.SetRawSocketOption(LevelIp, IpRecvError, on);
        }
    }

    /// <summary>
    /// Reads what the error queue of <paramref name="fd"/> holds and hands every ICMP report to the engine, sending
    /// the Data indication it writes to the allocation's client. Returns the reports read.
    /// </summary>
    public static int Deliver(int fd, Allocation allocation, IPeerDataHandler handler)
    {
        if (!IsSupported)
        {
            return 0;
        }

        byte* name = stackalloc byte[32];
        byte* control = stackalloc byte[256];
        byte* payload = stackalloc byte[8];
        Span<byte> indication = stackalloc byte[PeerDataFraming.IcmpIndicationLength];
        int read = 0;
        while (read < MaxReportsPerWakeUp)
        {
            var vector = new IoVector { Base = payload, Length = 8 };
            var message = new MessageHeader
            {
                Name = name,
                NameLength = 32,
                Vectors = &vector,
                VectorCount = 1,
                Control = control,
                ControlLength = 256,
            };
            if (LinuxSockets.ReceiveMessage(fd, &message, MsgErrorQueue | LinuxSockets.MsgDontWait) < 0)
            {
                // EAGAIN: the queue is empty (or the socket is gone).
                break;
            }

            read++;
            if (!TryParse(&message, out TransportAddress peer, out bool icmpv6, out byte type, out byte code, out uint info))
            {
                continue;
            }

            int length = handler.HandlePeerIcmp(allocation, peer, icmpv6, type, code, info, indication);
            if (length > 0)
            {
                allocation.Client.Send(indication[..length]);
            }
        }

        return read;
    }

    /// <summary>The peer and the ICMP type, code and info of one error-queue message; false for a report not from ICMP.</summary>
    internal static bool TryParse(MessageHeader* message, out TransportAddress peer, out bool icmpv6, out byte type, out byte code, out uint info)
    {
        peer = default;
        icmpv6 = false;
        type = code = 0;
        info = 0;
        byte* control = (byte*)message->Control;
        nuint length = message->ControlLength;
        nuint offset = 0;
        while (offset + 16 <= length)
        {
            nuint cmsgLength = *(nuint*)(control + offset);
            int level = *(int*)(control + offset + 8);
            int cmsgType = *(int*)(control + offset + 12);
            if (cmsgLength < 16 || offset + cmsgLength > length)
            {
                return false;
            }

            bool ip = level == LevelIp && cmsgType == IpRecvError;
            bool ipv6 = level == LevelIpv6 && cmsgType == Ipv6RecvError;
            if ((ip || ipv6) && cmsgLength >= 16 + 16)
            {
                // struct sock_extended_err: errno (4), origin, type, code, pad, info (4), data (4).
                byte* error = control + offset + 16;
                byte origin = error[4];
                if (origin != OriginIcmp && origin != OriginIcmp6)
                {
                    return false;
                }

                icmpv6 = origin == OriginIcmp6;
                type = error[5];
                code = error[6];
                info = *(uint*)(error + 8);
                ushort family = *(ushort*)message->Name;
                if (message->NameLength < 16 || (family != LinuxSockets.FamilyInet && family != LinuxSockets.FamilyInet6))
                {
                    return false;
                }

                peer = SocketAddressConversions.FromRaw(new ReadOnlySpan<byte>(message->Name, (int)message->NameLength),
                    family == LinuxSockets.FamilyInet6);
                return true;
            }

            offset += (cmsgLength + 7) & ~(nuint)7;
        }

        return false;
    }
}

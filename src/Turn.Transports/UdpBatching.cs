using Turn.Transports.Native;

namespace Turn.Transports;

/// <summary>Whether UDP can be served with batched system calls (recvmmsg/sendmmsg, epoll) on this machine.</summary>
public static class UdpBatching
{
    /// <summary>Datagrams per recvmmsg/sendmmsg call unless configured otherwise.</summary>
    public const int DefaultBatchSize = 32;

    /// <summary>True on 64-bit Linux (x86-64, arm64).</summary>
    public static bool IsSupported => LinuxSockets.IsSupported;
}

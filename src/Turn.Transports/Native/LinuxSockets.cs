using System.Runtime.InteropServices;

namespace Turn.Transports.Native;

/// <summary>
/// The few Linux system calls the batched UDP path makes itself: recvmmsg/sendmmsg (one call for many datagrams),
/// sendto with MSG_DONTWAIT, and epoll for relay sockets. Layouts are those of 64-bit Linux (x86-64 and arm64).
/// </summary>
internal static unsafe partial class LinuxSockets
{
    public const int MsgDontWait = 0x40;
    public const int MsgTruncated = 0x20;
    public const int MsgWaitForOne = 0x10000;
    public const int MsgNoSignal = 0x4000;

    public const int ErrorInterrupted = 4;
    public const int ErrorBadDescriptor = 9;
    public const int ErrorWouldBlock = 11;
    public const int ErrorNoBuffers = 105;
    public const int ErrorMessageSize = 90;
    public const int ErrorNetworkUnreachable = 101;
    public const int ErrorConnectionRefused = 111;
    public const int ErrorHostDown = 112;
    public const int ErrorHostUnreachable = 113;

    public const ushort FamilyInet = 2;
    public const ushort FamilyInet6 = 10;

    public const int EpollIn = 0x001;
    public const int EpollCloseOnExec = 0x80000;
    public const int EpollAdd = 1;
    public const int EpollDelete = 2;

    private const int ProtectReadWrite = 0x3;
    private const int MapPrivateAnonymous = 0x22;

    /// <summary>True where the layouts and constants above hold: Linux on a 64-bit x86 or Arm CPU.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux() && Environment.Is64BitProcess
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>struct epoll_event is packed on x86-64 (12 bytes) and naturally aligned elsewhere (16 bytes).</summary>
    public static int EpollEventSize => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    /// <summary>Offset of the 64-bit data field in struct epoll_event.</summary>
    public static int EpollDataOffset => RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    [LibraryImport("libc", EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int ReceiveMessages(int fd, MultiMessageHeader* messages, uint count, int flags, void* timeout);

    [LibraryImport("libc", EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint ReceiveMessage(int fd, MessageHeader* message, int flags);

    [LibraryImport("libc", EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMessages(int fd, MultiMessageHeader* messages, uint count, int flags);

    [LibraryImport("libc", EntryPoint = "sendto", SetLastError = true)]
    public static partial nint SendTo(int fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength);

    /// <summary>
    /// How many more times to try a send that failed with <paramref name="errno"/>, which may have been left on the
    /// socket by an ICMP report about an earlier datagram (relay sockets have IP_RECVERR set). Linux keeps such an error
    /// pending and fails the next send with it, without sending; the failed call clears it, so the datagram goes if tried
    /// again. While another thread reads the socket's error queue, each report it takes sets the error again, so port
    /// unreachable (which a UDP send never fails with on its own) is tried up to 16 more times; host and network
    /// unreachable and message too big, which a send can also fail with for its own datagram (no route, MTU), once.
    /// Under an ICMP storm, not trying again would drop datagrams to every other peer of the allocation.
    /// </summary>
    public static int TriesPastIcmpError(int errno) => errno switch
    {
        ErrorConnectionRefused or ErrorHostDown => 16,
        ErrorHostUnreachable or ErrorNetworkUnreachable or ErrorMessageSize => 1,
        _ => 0,
    };

    /// <summary><see cref="SendTo"/>, tried again while it fails with an error an earlier ICMP report may have left (<see cref="TriesPastIcmpError"/>).</summary>
    public static nint SendToPastIcmpErrors(int fd, byte* buffer, nuint length, int flags, byte* address, uint addressLength)
    {
        nint sent = SendTo(fd, buffer, length, flags, address, addressLength);
        for (int tries = 0; sent < 0 && tries < TriesPastIcmpError(Marshal.GetLastPInvokeError()); tries++)
        {
            sent = SendTo(fd, buffer, length, flags, address, addressLength);
        }

        return sent;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollControl(int epollFd, int operation, int fd, byte* epollEvent);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epollFd, byte* events, int maxEvents, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint MapMemory(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int UnmapMemory(nint address, nuint length);

    /// <summary>
    /// Anonymous private memory, zero-filled by the kernel on first touch: a receive slot sized for the largest
    /// datagram costs resident memory only for the pages datagrams actually reach.
    /// </summary>
    public static byte* MapAnonymous(nuint length)
    {
        nint address = MapMemory(0, length, ProtectReadWrite, MapPrivateAnonymous, -1, 0);
        if (address == -1)
        {
            throw new InsufficientMemoryException($"mmap of {length} bytes failed (errno {Marshal.GetLastPInvokeError()}).");
        }

        return (byte*)address;
    }

    public static void Unmap(byte* address, nuint length) => _ = UnmapMemory((nint)address, length);
}

/// <summary>struct iovec.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVector
{
    public byte* Base;
    public nuint Length;
}

/// <summary>struct msghdr (56 bytes on 64-bit Linux).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct MessageHeader
{
    public byte* Name;
    public uint NameLength;
    public IoVector* Vectors;
    public nuint VectorCount;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct mmsghdr (64 bytes on 64-bit Linux): a message and the bytes the call moved for it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MultiMessageHeader
{
    public MessageHeader Header;
    public uint Length;
}

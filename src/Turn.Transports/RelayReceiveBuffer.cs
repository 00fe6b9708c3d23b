using Turn.Relay.Allocations;

namespace Turn.Transports;

/// <summary>
/// One pinned receive buffer per thread for relay sockets: room for the largest UDP payload plus the headroom and
/// tailroom the engine needs to frame it for the client in place. Shared by every allocation the thread serves.
/// </summary>
internal static class RelayReceiveBuffer
{
    public const int PayloadLength = 65536;

    [ThreadStatic]
    private static byte[]? _buffer;

    public static byte[] ForCurrentThread =>
        _buffer ??= GC.AllocateArray<byte>(PeerDataFraming.Headroom + PayloadLength + PeerDataFraming.Tailroom, pinned: true);
}

using Microsoft.Extensions.Logging;
using Turn.Transports;
using Turn.Transports.Native;

namespace Turn.Server;

/// <summary>How UDP sockets are served (<see cref="TurnServerOptions.UdpIo"/>).</summary>
public enum UdpIoMode
{
    /// <summary>Batched where the platform supports it, sockets elsewhere.</summary>
    Auto,

    /// <summary>recvmmsg/sendmmsg on a thread per listening socket, epoll threads for relay sockets (64-bit Linux).</summary>
    Batched,

    /// <summary>The .NET socket engine: an async receive loop per socket; runs everywhere.</summary>
    Sockets,
}

/// <summary>
/// The UDP serving mode chosen at start, and in batched mode the threads that serve relay sockets. One per server;
/// disposed (threads stopped) when the server stops.
/// </summary>
public sealed class UdpIoSetup : IDisposable
{
    private UdpIoSetup(int receiveBatch, NativeRelayPoller? poller, int relayThreads, bool segmentation)
    {
        Segmentation = segmentation;
        ReceiveBatch = receiveBatch;
        Poller = poller;
        RelayThreads = relayThreads;
    }

    /// <summary>Datagrams per call for listening sockets; 0 in sockets mode.</summary>
    public int ReceiveBatch { get; }

    /// <summary>The relay socket threads in batched mode; null in sockets mode.</summary>
    public NativeRelayPoller? Poller { get; }

    public int RelayThreads { get; }

    /// <summary>Runs of equal datagrams to one destination leave with UDP GSO (batched mode only).</summary>
    public bool Segmentation { get; }

    public bool IsBatched => Poller is not null;

    public static bool TryParseMode(string? text, out UdpIoMode mode)
    {
        // Names only: Enum.TryParse would also take numbers and comma lists.
        foreach (UdpIoMode candidate in Enum.GetValues<UdpIoMode>())
        {
            if (string.Equals(text, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                mode = candidate;
                return true;
            }
        }

        mode = UdpIoMode.Auto;
        return false;
    }

    public static UdpIoSetup Create(TurnServerOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = TryParseMode(options.UdpIo, out UdpIoMode mode);
        bool batched = mode == UdpIoMode.Batched || (mode == UdpIoMode.Auto && UdpBatching.IsSupported);
        if (!batched)
        {
            return new UdpIoSetup(0, null, 0, segmentation: false);
        }

        var poller = new NativeRelayPoller(options.RelayThreads, options.UdpBatchSize, options.UdpGso, logger);
        return new UdpIoSetup(options.UdpBatchSize, poller, options.RelayThreads, options.UdpGso);
    }

    public void Dispose() => Poller?.Dispose();
}

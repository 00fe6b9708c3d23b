using System.Net;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;

namespace Turn.Transports;

/// <summary>Hands one datagram from a listening socket to the engine, so that no packet can stop the loop.</summary>
internal static class ListenerDispatch
{
    /// <summary>The engine's answer length for <paramref name="packet"/>; 0 (and a throttled log line) if it threw.</summary>
    public static int Process(StunMessageProcessor processor, ReadOnlySpan<byte> packet, in FiveTuple tuple, IClientTransport transport,
        Span<byte> response, ErrorLogThrottle errorThrottle, ILogger logger, IPEndPoint localEndPoint)
    {
        try
        {
            return processor.Process(packet, tuple, transport, response);
        }
#pragma warning disable CA1031 // A bug in one packet's handling must not stop the listener from serving everyone else.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (errorThrottle.ShouldLog())
            {
                TransportLog.PacketHandlerFailed(logger, localEndPoint, ex);
            }

            return 0;
        }
    }
}

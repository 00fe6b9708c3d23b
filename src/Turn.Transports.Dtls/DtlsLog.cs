using System.Net;
using Microsoft.Extensions.Logging;

namespace Turn.Transports.Dtls;

/// <summary>Log events of the DTLS listener, EventIds 200-219. Nothing here is logged per packet above Debug.</summary>
internal static partial class DtlsLog
{
    [LoggerMessage(EventId = 200, Level = LogLevel.Debug, Message = "DTLS association with {Remote} opened")]
    public static partial void AssociationOpened(ILogger logger, IPEndPoint remote);

    [LoggerMessage(EventId = 201, Level = LogLevel.Debug, Message = "DTLS association with {Remote} closed: {Reason}")]
    public static partial void AssociationClosed(ILogger logger, IPEndPoint remote, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Debug, Message = "DTLS receive on {EndPoint} failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, IPEndPoint endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "DTLS association thread for {Remote} did not stop in time")]
    public static partial void ThreadDidNotStop(ILogger logger, IPEndPoint remote);
}

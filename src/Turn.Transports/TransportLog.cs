using System.Net;
using Microsoft.Extensions.Logging;

namespace Turn.Transports;

/// <summary>Log events of the socket layer, EventIds 100-199. Nothing here is logged per packet above Debug.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Listening on {Protocol} {EndPoint}")]
    public static partial void Listening(ILogger logger, string protocol, IPEndPoint endPoint);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Stopped listening on {Protocol} {EndPoint}")]
    public static partial void Stopped(ILogger logger, string protocol, IPEndPoint endPoint);

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "UDP receive on {EndPoint} failed: {Error}")]
    public static partial void ReceiveFailed(ILogger logger, IPEndPoint endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "UDP send from {EndPoint} failed: {Error}")]
    public static partial void SendFailed(ILogger logger, IPEndPoint endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(EventId = 120, Level = LogLevel.Debug, Message = "TCP connection from {Remote} closed: {Reason}")]
    public static partial void ConnectionClosed(ILogger logger, EndPoint? remote, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Warning,
        Message = "Connection limit of {Max} reached: new connections on {EndPoint} are closed on arrival (--max-connections)")]
    public static partial void ConnectionLimitReached(ILogger logger, int max, IPEndPoint endPoint);

    [LoggerMessage(EventId = 121, Level = LogLevel.Warning, Message = "Accepting on {EndPoint} failed: {Error}")]
    public static partial void AcceptFailed(ILogger logger, IPEndPoint endPoint, System.Net.Sockets.SocketError error);

    [LoggerMessage(EventId = 130, Level = LogLevel.Error, Message = "Relay socket thread stopped: epoll_wait failed (errno {Errno})")]
    public static partial void RelayPollFailed(ILogger logger, int errno);

    [LoggerMessage(EventId = 131, Level = LogLevel.Error, Message = "UDP receive thread on {EndPoint} stopped: recvmmsg failed (errno {Errno})")]
    public static partial void BatchReceiveStopped(ILogger logger, IPEndPoint endPoint, int errno);

    [LoggerMessage(EventId = 132, Level = LogLevel.Warning, Message = "UDP receive thread on {EndPoint} did not stop in time; leaving its socket open")]
    public static partial void ThreadDidNotStop(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(EventId = 133, Level = LogLevel.Warning, Message = "Relay socket thread {Name} did not stop in time")]
    public static partial void RelayThreadDidNotStop(ILogger logger, string name);

    [LoggerMessage(EventId = 190, Level = LogLevel.Error, Message = "Unexpected error handling a packet on {EndPoint}")]
    public static partial void PacketHandlerFailed(ILogger logger, IPEndPoint endPoint, Exception exception);
}

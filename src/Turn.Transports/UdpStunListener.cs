using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// One UDP socket and its receive loop. Datagrams land in a pinned buffer, the sender is read from a reused
/// <see cref="SocketAddress"/>, and the answer goes back from the same socket to the sender (RFC 8489 §6.3.1.2).
/// Nothing on this path allocates per datagram.
/// </summary>
public sealed class UdpStunListener : IAsyncDisposable, IClientTransport
{
    private const int ReceiveBufferLength = 65536;

    private readonly Socket _socket;
    private readonly StunMessageProcessor _processor;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TransportAddress _serverAddress;
    private readonly ErrorLogThrottle _errorThrottle = new();
    private Task _loop = Task.CompletedTask;

    private UdpStunListener(Socket socket, StunMessageProcessor processor, TransportCounters counters, ILogger logger)
    {
        _socket = socket;
        _processor = processor;
        _counters = counters;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _serverAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Binds the socket now, so address conflicts surface at start; call <see cref="Start"/> to serve.</summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger) =>
        Bind(endPoint, processor, counters, logger, reusePort: false);

    /// <summary>As above; with <paramref name="reusePort"/> several listeners can share the address (SO_REUSEPORT).</summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger, bool reusePort)
    {
        Socket socket = ListenerSocket.Bind(endPoint, SocketType.Dgram, ProtocolType.Udp, reusePort);
        return new UdpStunListener(socket, processor, counters, logger);
    }

    /// <summary>RFC 8656 §11.3, §12.5: data for an allocation's client leaves from this socket to the client's address.</summary>
    public IClientSender CreateSender(in FiveTuple tuple) => new UdpClientSender(_socket, tuple.Client.ToSocketAddress(), _counters);

    public void Start()
    {
        TransportLog.Listening(_logger, "UDP", LocalEndPoint);
        _loop = Task.Run(ReceiveLoopAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
        TransportLog.Stopped(_logger, "UDP", LocalEndPoint);
    }

    private async Task ReceiveLoopAsync()
    {
        CancellationToken stopping = _stopping.Token;
        byte[] receiveBuffer = GC.AllocateArray<byte>(ReceiveBufferLength, pinned: true);
        byte[] sendBuffer = GC.AllocateArray<byte>(StunMessageProcessor.MaxResponseLength, pinned: true);
        var remote = new SocketAddress(_socket.AddressFamily);

        while (!stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(receiveBuffer, SocketFlags.None, remote, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                // E.g. ICMP port unreachable reported on the next receive (ECONNREFUSED): one peer's problem, not ours.
                _counters.CountReceiveError();
                TransportLog.ReceiveFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
                continue;
            }

            _counters.CountDatagramReceived();
            int answer = Handle(receiveBuffer, received, remote, sendBuffer);
            if (answer == 0)
            {
                continue;
            }

            try
            {
                await _socket.SendToAsync(sendBuffer.AsMemory(0, answer), SocketFlags.None, remote, stopping).ConfigureAwait(false);
                _counters.CountDatagramSent();
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                _counters.CountSendError();
                TransportLog.SendFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
            }
        }
    }

    private int Handle(byte[] receiveBuffer, int received, SocketAddress remote, byte[] sendBuffer)
    {
        try
        {
            var tuple = new FiveTuple(remote.ToTransportAddress(), _serverAddress, TransportProtocol.Udp);
            return _processor.Process(receiveBuffer.AsSpan(0, received), tuple, this, sendBuffer);
        }
#pragma warning disable CA1031 // A bug in one packet's handling must not stop the listener from serving everyone else.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_errorThrottle.ShouldLog())
            {
                TransportLog.PacketHandlerFailed(_logger, LocalEndPoint, ex);
            }

            return 0;
        }
    }
}

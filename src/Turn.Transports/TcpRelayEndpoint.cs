using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// A TCP relayed address (RFC 6062 §5.1): a listening socket on the relay address and a port of the relay range, which
/// accepts peer connections (§5.3), and from whose address and port connections to peers are made (§5.2). Both sides
/// join a SO_REUSEPORT group, which is what lets a connecting socket bind the port a listening one holds (Linux).
/// </summary>
internal sealed class TcpRelayEndpoint : ITcpRelayEndpoint
{
    /// <summary>Peer connections waiting in the kernel to be accepted.</summary>
    private const int Backlog = 16;

    private readonly Socket _listener;
    private readonly IPEndPoint _localEndPoint;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<TcpRelayEndpoint>? _onDispose;
    private int _disposed;

    public TcpRelayEndpoint(Socket listener, TransportCounters counters, ILogger logger, Action<TcpRelayEndpoint>? onDispose)
    {
        _listener = listener;
        _localEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        LocalAddress = TransportAddress.FromIPEndPoint(_localEndPoint);
        _counters = counters;
        _logger = logger;
        _onDispose = onDispose;
        listener.Listen(Backlog);
    }

    public TransportAddress LocalAddress { get; }

    /// <summary>Nothing: a TCP allocation's data goes over its data connections (RFC 6062 §4), never in datagrams.</summary>
    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
    }

    public void SetDontFragment(bool enabled)
    {
    }

    /// <summary>Datagram delivery does not apply; <see cref="StartAccepting"/> is what a TCP relayed address starts with.</summary>
    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
    }

    public void StartAccepting(Allocation allocation, ITcpPeerConnectionHandler handler) => _ = AcceptLoopAsync(allocation, handler);

    public async Task<ITcpPeerConnection?> ConnectAsync(TransportAddress peer, TimeSpan timeout)
    {
        Socket socket;
        try
        {
            socket = ListenerSocket.Bind(_localEndPoint, SocketType.Stream, ProtocolType.Tcp, reusePort: true);
        }
        catch (SocketException)
        {
            return null;
        }

        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(peer.ToIPEndPoint(), cancel.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            _counters.CountTcpPeerConnected();
            return new TcpPeerConnection(socket, peer);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            return null;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _listener.Dispose();
        _onDispose?.Invoke(this);
    }

    private async Task AcceptLoopAsync(Allocation allocation, ITcpPeerConnectionHandler handler)
    {
        while (Volatile.Read(ref _disposed) == 0)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException) when (Volatile.Read(ref _disposed) != 0)
            {
                break;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted; the listener is fine.
                continue;
            }

            try
            {
                socket.NoDelay = true;
                var peer = TransportAddress.FromIPEndPoint((IPEndPoint)socket.RemoteEndPoint!);
                _counters.CountTcpPeerAccepted();
                handler.HandleIncomingPeer(allocation, new TcpPeerConnection(socket, peer));
            }
#pragma warning disable CA1031 // One connection's trouble must not stop the relayed address accepting.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                socket.Dispose();
                TransportLog.PacketHandlerFailed(_logger, _localEndPoint, ex);
            }
        }
    }
}

/// <summary>A peer's TCP connection to or from a relayed address (RFC 6062); the socket is read only once it is bound.</summary>
internal sealed class TcpPeerConnection(Socket socket, TransportAddress peer) : ITcpPeerConnection
{
    private int _closed;

    public TransportAddress Peer { get; } = peer;

    public Socket Socket { get; } = socket;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            Socket.Dispose();
        }
    }
}

namespace Turn.Transports;

/// <summary>Socket-level events, counted lock-free; read by metrics and tests.</summary>
public sealed class TransportCounters
{
    private long _datagramsReceived;
    private long _datagramsSent;
    private long _receiveErrors;
    private long _sendErrors;
    private long _connectionsAccepted;
    private long _connectionsClosedIdle;
    private long _connectionsClosedFramingError;
    private long _relayedToPeer;
    private long _relayedFromPeer;
    private long _streamSendDropped;
    private long _connectionsRefusedLimit;
    private long _tlsHandshakesFailed;
    private long _tcpPeersConnected;
    private long _tcpPeersAccepted;
    private long _tcpBytesToPeer;
    private long _tcpBytesFromPeer;

    public long DatagramsReceived => Interlocked.Read(ref _datagramsReceived);

    public long DatagramsSent => Interlocked.Read(ref _datagramsSent);

    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    public long SendErrors => Interlocked.Read(ref _sendErrors);

    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);

    /// <summary>Stream connections closed because nothing arrived within the idle timeout.</summary>
    public long ConnectionsClosedIdle => Interlocked.Read(ref _connectionsClosedIdle);

    /// <summary>Stream connections closed because the byte stream could not be framed (RFC 8489 §6.2.2).</summary>
    public long ConnectionsClosedFramingError => Interlocked.Read(ref _connectionsClosedFramingError);

    /// <summary>Datagrams sent from relayed addresses to peers.</summary>
    public long RelayedToPeer => Interlocked.Read(ref _relayedToPeer);

    /// <summary>Datagrams received on relayed addresses from peers (before the permission check).</summary>
    public long RelayedFromPeer => Interlocked.Read(ref _relayedFromPeer);

    /// <summary>Messages for a stream client dropped because it had not read what was already waiting (backpressure).</summary>
    public long StreamSendDropped => Interlocked.Read(ref _streamSendDropped);

    /// <summary>RFC 6062 §5.2: connections made from TCP relayed addresses to peers (Connect).</summary>
    public long TcpPeersConnected => Interlocked.Read(ref _tcpPeersConnected);

    /// <summary>RFC 6062 §5.3: connections peers opened to TCP relayed addresses (before the permission check).</summary>
    public long TcpPeersAccepted => Interlocked.Read(ref _tcpPeersAccepted);

    /// <summary>RFC 6062 §5.4: bytes relayed from client data connections to peers.</summary>
    public long TcpBytesToPeer => Interlocked.Read(ref _tcpBytesToPeer);

    /// <summary>RFC 6062 §5.4: bytes relayed from peers to client data connections.</summary>
    public long TcpBytesFromPeer => Interlocked.Read(ref _tcpBytesFromPeer);

    /// <summary>TLS connections closed because the handshake failed or took too long.</summary>
    public long TlsHandshakesFailed => Interlocked.Read(ref _tlsHandshakesFailed);

    internal void CountTlsHandshakeFailed() => Interlocked.Increment(ref _tlsHandshakesFailed);

    /// <summary>Connections closed on arrival because the connection limit was reached.</summary>
    public long ConnectionsRefusedLimit => Interlocked.Read(ref _connectionsRefusedLimit);

    internal void CountConnectionRefusedLimit() => Interlocked.Increment(ref _connectionsRefusedLimit);

    internal void CountStreamSendDropped() => Interlocked.Increment(ref _streamSendDropped);

    internal void CountRelayedToPeer() => Interlocked.Increment(ref _relayedToPeer);

    internal void CountRelayedFromPeer() => Interlocked.Increment(ref _relayedFromPeer);

    internal void CountDatagramReceived() => Interlocked.Increment(ref _datagramsReceived);

    internal void CountDatagramSent() => Interlocked.Increment(ref _datagramsSent);

    internal void CountReceiveError() => Interlocked.Increment(ref _receiveErrors);

    internal void CountSendError() => Interlocked.Increment(ref _sendErrors);

    internal void CountRelayedToPeer(int count) => Interlocked.Add(ref _relayedToPeer, count);

    internal void CountRelayedFromPeer(int count) => Interlocked.Add(ref _relayedFromPeer, count);

    internal void CountDatagramsReceived(int count) => Interlocked.Add(ref _datagramsReceived, count);

    internal void CountDatagramsSent(int count) => Interlocked.Add(ref _datagramsSent, count);

    internal void CountSendErrors(int count) => Interlocked.Add(ref _sendErrors, count);

    internal void CountTcpPeerConnected() => Interlocked.Increment(ref _tcpPeersConnected);

    internal void CountTcpPeerAccepted() => Interlocked.Increment(ref _tcpPeersAccepted);

    internal void CountTcpBytes(int bytes, bool toPeer) => Interlocked.Add(ref toPeer ? ref _tcpBytesToPeer : ref _tcpBytesFromPeer, bytes);

    internal void CountConnectionAccepted() => Interlocked.Increment(ref _connectionsAccepted);

    internal void CountClosedIdle() => Interlocked.Increment(ref _connectionsClosedIdle);

    internal void CountClosedFramingError() => Interlocked.Increment(ref _connectionsClosedFramingError);
}

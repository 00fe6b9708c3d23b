using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// One TCP connection between a TCP relayed address and a peer (RFC 6062 §2): made by a Connect request or accepted
/// from the peer. Until a client data connection is bound to it (ConnectionBind), what the peer sends waits in the
/// connection's kernel buffers, so nothing it sent before the bind is lost (RFC 6062 §5.4).
/// </summary>
public interface ITcpPeerConnection : IDisposable
{
    /// <summary>The peer's address and port.</summary>
    TransportAddress Peer { get; }

    /// <summary>Closed, by either side or by <see cref="IDisposable.Dispose"/>.</summary>
    bool IsClosed { get; }
}

/// <summary>A TCP relayed address (RFC 6062 §5.1): listens for peers and connects to them from the same address and port.</summary>
public interface ITcpRelayEndpoint : IRelayEndpoint
{
    /// <summary>RFC 6062 §5.2: a connection from the relayed address to <paramref name="peer"/>; null when it fails or times out.</summary>
    Task<ITcpPeerConnection?> ConnectAsync(TransportAddress peer, TimeSpan timeout);

    /// <summary>RFC 6062 §5.3: starts accepting peer connections, each handed to <paramref name="handler"/>.</summary>
    void StartAccepting(Allocation allocation, ITcpPeerConnectionHandler handler);
}

/// <summary>Takes the connections peers open to a TCP relayed address (RFC 6062 §5.3).</summary>
public interface ITcpPeerConnectionHandler
{
    void HandleIncomingPeer(Allocation allocation, ITcpPeerConnection connection);
}

/// <summary>
/// A client connection (TCP or TLS) that can become a data connection (RFC 6062 §4.4, §5.4): once bound, after the
/// ConnectionBind success response, it stops carrying STUN and relays bytes to and from <paramref name="peer"/> as they
/// are, until either side closes, which closes the other.
/// </summary>
public interface IDataConnectionTransport
{
    /// <summary>Binds this connection to <paramref name="peer"/>; false when it cannot be (already bound, closing).</summary>
    bool TryBindPeer(ITcpPeerConnection peer, Allocation allocation);
}

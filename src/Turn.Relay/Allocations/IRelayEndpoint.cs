using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>
/// The relayed transport address of one allocation (RFC 8656 §2): a socket the transport layer owns. The engine only
/// asks it to send a datagram to a peer; datagrams from peers go to the <see cref="IPeerDataHandler"/> given to <see cref="Attach"/>.
/// </summary>
public interface IRelayEndpoint : IDisposable
{
    /// <summary>The address the socket is bound to (before any --external-ip mapping).</summary>
    TransportAddress LocalAddress { get; }

    /// <summary>
    /// RFC 8656 §11.2, §12.6: sends one UDP datagram from the relayed address; drops it on a full buffer. With
    /// <paramref name="dontFragment"/> (a Send indication's DONT-FRAGMENT, §11.2) this datagram goes with DF set.
    /// </summary>
    void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false);

    /// <summary>RFC 8656 §7.2 item 4, §14: set the DF bit on what this endpoint sends (DONT-FRAGMENT).</summary>
    void SetDontFragment(bool enabled);

    /// <summary>Starts delivering datagrams from peers, for this allocation, to <paramref name="handler"/>.</summary>
    void Attach(Allocation allocation, IPeerDataHandler handler);
}

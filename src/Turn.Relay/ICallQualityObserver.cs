namespace Turn.Relay;

/// <summary>
/// Told the round-trip times the relay sees in the clear: ICE connectivity and consent checks (STUN Binding requests,
/// RFC 8445 §7.2, RFC 7675 §5.1) travel inside relayed data, and the relay times a request on its way one direction
/// against its response on the way back. Called on the relay path, rarely (a check every few seconds per candidate
/// pair), and must not block.
/// </summary>
public interface ICallQualityObserver
{
    /// <param name="transport">The client's transport to this server.</param>
    /// <param name="clientLeg">
    /// True: the check came from the peer and the client answered (relay → client → relay); false: the client checked
    /// the peer (relay → peer → relay).
    /// </param>
    /// <param name="seconds">The round trip.</param>
    void CheckRoundTrip(TransportProtocol transport, bool clientLeg, double seconds);

    /// <summary>
    /// One report interval of an RTP stream relayed one way: the fraction of its packets that never reached the relay
    /// (RFC 3550 A.3), and its interarrival jitter in seconds (RFC 3550 A.8; negative while the clock rate is not known).
    /// </summary>
    /// <param name="toPeer">True for the stream from the client to the peer.</param>
    void RtpInterval(TransportProtocol transport, bool toPeer, double lossFraction, double jitterSeconds);
}

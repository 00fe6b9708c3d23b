namespace Turn.Relay.Allocations;

/// <summary>
/// Sends to the client of an allocation over the 5-tuple it was created on: from the listening socket the client
/// used (UDP) or on its connection (TCP/TLS). Created once per allocation by the transport.
/// </summary>
public interface IClientSender
{
    /// <summary>Sends one message (Data indication or ChannelData); drops it when the transport cannot take it.</summary>
    void Send(ReadOnlySpan<byte> message);
}

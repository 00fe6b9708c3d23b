using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// The other nodes of this node's cluster that take new allocations: where a full or draining node sends a client with
/// 300 Try Alternate (RFC 8489 §10). Read on Allocate requests only when the node is full or draining, so it answers
/// from memory; the registry behind it is refreshed in the background and may be a moment behind.
/// </summary>
public interface IClusterAlternates
{
    /// <summary>
    /// The least loaded healthy other node of the region that a client of <paramref name="family"/> reaches over
    /// <paramref name="protocol"/>, as the address it listens on for that transport; false when there is none.
    /// </summary>
    bool TryPick(TransportProtocol protocol, StunAddressFamily family, out TransportAddress alternate);
}

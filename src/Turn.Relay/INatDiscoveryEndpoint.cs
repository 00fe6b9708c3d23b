using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// RFC 5780 §4, §6: a UDP listening address of a server that has a second IP address and a second port, so clients can
/// find out how their NAT maps and filters. The four combinations of the two IPs and two ports each listen; a Binding
/// response can leave from another of them (CHANGE-REQUEST) or go to another port of the client (RESPONSE-PORT).
/// </summary>
public interface INatDiscoveryEndpoint
{
    /// <summary>
    /// RFC 5780 §7.4: the address that differs from this one in both IP and port (OTHER-ADDRESS); false when the server
    /// has no second address for this family (RFC 5780 is off here).
    /// </summary>
    bool TryGetOtherAddress(out TransportAddress other);

    /// <summary>The local address a response leaves from with the IP and/or the port changed (RESPONSE-ORIGIN).</summary>
    TransportAddress OriginFor(bool changeIp, bool changePort);

    /// <summary>Sends <paramref name="message"/> from <see cref="OriginFor"/> to <paramref name="destination"/>; dropped when it cannot be sent.</summary>
    void SendFrom(bool changeIp, bool changePort, ReadOnlySpan<byte> message, in TransportAddress destination);
}

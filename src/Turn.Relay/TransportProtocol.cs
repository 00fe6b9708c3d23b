namespace Turn.Relay;

/// <summary>The transport between client and server, part of the 5-tuple (RFC 8656 §2, §5).</summary>
public enum TransportProtocol : byte
{
    Udp,
    Tcp,
    Tls,
    Dtls,
}

using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// Client address, server address and transport: what identifies an allocation (RFC 8656 §2, §5) and where a
/// response goes (RFC 8489 §6.3.1.2).
/// </summary>
public readonly record struct FiveTuple(TransportAddress Client, TransportAddress Server, TransportProtocol Protocol)
{
    public bool IsStream => Protocol is TransportProtocol.Tcp or TransportProtocol.Tls;
}

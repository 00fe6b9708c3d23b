using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>A channel of an allocation: number, peer and expiry (RFC 8656 §12; 10 minutes, refreshed by ChannelBind).</summary>
public sealed class ChannelBinding
{
    private long _expiresAt;

    internal ChannelBinding(ushort number, TransportAddress peer, long expiresAt)
    {
        Number = number;
        Peer = peer;
        _expiresAt = expiresAt;
    }

    public ushort Number { get; }

    public TransportAddress Peer { get; }

    public long ExpiresAt => Volatile.Read(ref _expiresAt);

    public bool IsLive(long now) => now < ExpiresAt;

    internal void Refresh(long expiresAt) => Volatile.Write(ref _expiresAt, expiresAt);
}

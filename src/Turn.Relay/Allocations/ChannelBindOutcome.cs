namespace Turn.Relay.Allocations;

/// <summary>What binding a channel did (RFC 8656 §12.2).</summary>
public enum ChannelBindOutcome
{
    Bound,
    Refreshed,
    /// <summary>The number is bound to another peer, or the peer to another number: 400.</summary>
    Conflict,
    /// <summary>The allocation has as many channels as it may: 508.</summary>
    AtCapacity,
}

namespace Turn.Relay.Allocations;

/// <summary>
/// Hands out relay endpoints from the configured port range (RFC 8656 §7.2: 49152-65535 by default, random choice
/// per RFC 6056) and keeps EVEN-PORT reservations for at least 30 s (§7.2, §18.10).
/// </summary>
public interface IRelayPortAllocator
{
    /// <summary>Whether relayed addresses of this family can be had at all (RFC 8656 §7.2 item 7: else 440).</summary>
    bool Supports(Stun.StunAddressFamily family);

    /// <summary>A fresh endpoint; null when no port can be had (508 Insufficient Capacity).</summary>
    RelayPortGrant? TryAllocate(RelayPortRequest request);

    /// <summary>RFC 8656 §7.2: the port reserved under this token; null when unknown or expired (508).</summary>
    IRelayEndpoint? TryClaimReservation(ulong token);

    /// <summary>Whether TCP relayed addresses (RFC 6062) can be had at all (else 442).</summary>
    bool SupportsTcp => false;

    /// <summary>RFC 6062 §5.1: a TCP relayed address of this family, listening; null when no port can be had (508).</summary>
    ITcpRelayEndpoint? TryAllocateTcp(Stun.StunAddressFamily family) => null;
}

using Turn.Stun;

namespace Turn.Relay.Allocations;

/// <summary>What an Allocate asks of the relay port (RFC 8656 §7.2 items 5, 8; §18.7).</summary>
public readonly record struct RelayPortRequest(StunAddressFamily Family, bool EvenPort, bool ReserveNextPort);

namespace Turn.Relay.Allocations;

/// <summary>A relay endpoint handed to a new allocation, with the token of the port reserved next to it (EVEN-PORT R=1).</summary>
public readonly record struct RelayPortGrant(IRelayEndpoint Endpoint, ulong? ReservationToken);

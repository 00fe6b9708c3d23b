namespace Turn.Relay.Allocations;

/// <summary>
/// What the other nodes of a cluster hold, as this node last heard it: their allocations per username, so a per-user
/// quota counts across nodes. Read on every Allocate, so it answers from memory; the shared store behind it is refreshed
/// in the background and may be a moment behind.
/// </summary>
public interface IClusterAllocationView
{
    /// <summary>Allocations <paramref name="username"/> holds on the other nodes (0 when unknown or not clustered).</summary>
    int AllocationsElsewhere(string username);
}

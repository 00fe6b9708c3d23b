using Turn.Relay.Allocations;

namespace Turn.Server;

/// <summary>Relayed application data, both ways: packets and payload bytes.</summary>
public readonly record struct TrafficCounts(long PacketsToPeer, long BytesToPeer, long PacketsToClient, long BytesToClient)
{
    /// <summary>These counts plus the allocation's.</summary>
    public TrafficCounts Plus(Allocation allocation)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        return new TrafficCounts(PacketsToPeer + allocation.PacketsToPeer, BytesToPeer + allocation.BytesToPeer,
            PacketsToClient + allocation.PacketsToClient, BytesToClient + allocation.BytesToClient);
    }
}

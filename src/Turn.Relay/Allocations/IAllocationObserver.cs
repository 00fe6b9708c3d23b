namespace Turn.Relay.Allocations;

/// <summary>
/// Told when an allocation is created and when it ends (once each, outside any lock of the table): the audit log and
/// the traffic totals live behind it. Called on the thread that created or removed the allocation, so it must be quick
/// and must not throw.
/// </summary>
public interface IAllocationObserver
{
    void Created(Allocation allocation);

    /// <summary>The allocation is gone; its traffic counters hold their final values (give or take a packet in flight).</summary>
    void Ended(Allocation allocation, AllocationEndReason reason);
}

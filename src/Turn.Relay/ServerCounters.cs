namespace Turn.Relay;

/// <summary>
/// Lock-free counters of what the protocol engine did. Incremented on the packet path with one interlocked add;
/// read by metrics and tests.
/// </summary>
public sealed class ServerCounters
{
    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private long _bindingRequests;
    private long _bindingIndications;
    private long _successResponses;
    private long _errorResponses;
    private long _allocationsCreated;
    private long _allocationsDeleted;
    private long _quotaRejections;
    private long _capacityRejections;
    private long _peersRefused;

    public long BindingRequests => Interlocked.Read(ref _bindingRequests);

    public long BindingIndications => Interlocked.Read(ref _bindingIndications);

    public long SuccessResponses => Interlocked.Read(ref _successResponses);

    public long ErrorResponses => Interlocked.Read(ref _errorResponses);

    public long AllocationsCreated => Interlocked.Read(ref _allocationsCreated);

    /// <summary>Allocations deleted by the client (Refresh with LIFETIME 0); expiries are counted by the sweep.</summary>
    public long AllocationsDeleted => Interlocked.Read(ref _allocationsDeleted);

    /// <summary>Allocate requests refused with 486 (user or total quota).</summary>
    public long QuotaRejections => Interlocked.Read(ref _quotaRejections);

    /// <summary>Requests refused with 508 (no relay port, or permission/channel limits).</summary>
    public long CapacityRejections => Interlocked.Read(ref _capacityRejections);

    /// <summary>CreatePermission/ChannelBind refused with 403 by the peer address policy.</summary>
    public long PeersRefused => Interlocked.Read(ref _peersRefused);

    public long Dropped(DropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    public long TotalDropped
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _drops.Length; i++)
            {
                total += Interlocked.Read(ref _drops[i]);
            }

            return total;
        }
    }

    internal void CountDrop(DropReason reason) => Interlocked.Increment(ref _drops[(int)reason]);

    internal void CountBindingRequest() => Interlocked.Increment(ref _bindingRequests);

    internal void CountBindingIndication() => Interlocked.Increment(ref _bindingIndications);

    internal void CountSuccess() => Interlocked.Increment(ref _successResponses);

    internal void CountError() => Interlocked.Increment(ref _errorResponses);

    internal void CountAllocationCreated() => Interlocked.Increment(ref _allocationsCreated);

    internal void CountAllocationDeleted() => Interlocked.Increment(ref _allocationsDeleted);

    internal void CountQuotaRejection() => Interlocked.Increment(ref _quotaRejections);

    internal void CountCapacityRejection() => Interlocked.Increment(ref _capacityRejections);

    internal void CountPeerRefused() => Interlocked.Increment(ref _peersRefused);
}

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

    public long BindingRequests => Interlocked.Read(ref _bindingRequests);

    public long BindingIndications => Interlocked.Read(ref _bindingIndications);

    public long SuccessResponses => Interlocked.Read(ref _successResponses);

    public long ErrorResponses => Interlocked.Read(ref _errorResponses);

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
}

using Turn.Relay.Policy;
using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// Lock-free counters of what the protocol engine did. Incremented on the packet path with one interlocked add;
/// read by metrics and tests.
/// </summary>
public sealed class ServerCounters
{
    /// <summary>The error codes counted one by one (bounded metric labels); any other code counts as 0, "other".</summary>
    public static ReadOnlySpan<int> KnownErrorCodes =>
    [
        StunErrorCode.TryAlternate, StunErrorCode.BadRequest, StunErrorCode.Unauthenticated, StunErrorCode.Forbidden,
        StunErrorCode.UnknownAttribute, StunErrorCode.AllocationMismatch, StunErrorCode.StaleNonce,
        StunErrorCode.AddressFamilyNotSupported, StunErrorCode.WrongCredentials, StunErrorCode.UnsupportedTransportProtocol,
        StunErrorCode.PeerAddressFamilyMismatch, StunErrorCode.ConnectionAlreadyExists, StunErrorCode.ConnectionTimeoutOrFailure,
        StunErrorCode.AllocationQuotaReached, StunErrorCode.ServerError, StunErrorCode.InsufficientCapacity,
    ];

    private readonly long[] _drops = new long[Enum.GetValues<DropReason>().Length];
    private readonly long[] _errorsByCode = new long[KnownErrorCodes.Length + 1];
    private readonly long[] _peersRefusedByCategory = new long[Enum.GetValues<PeerAddressCategory>().Length];
    private long _bindingRequests;
    private long _bindingIndications;
    private long _successResponses;
    private long _errorResponses;
    private long _allocationsCreated;
    private long _allocationsDeleted;
    private long _quotaRejections;
    private long _capacityRejections;
    private long _peersRefused;
    private long _drainRejections;
    private long _icmpRelayed;
    private long _tcpConnectionsBound;
    private long _tcpPeersRefused;
    private long _icmpDropped;

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

    /// <summary>Error responses sent with <paramref name="code"/>; 0 for a code not in <see cref="KnownErrorCodes"/> means all others.</summary>
    public long ErrorResponsesWithCode(int code) => Interlocked.Read(ref _errorsByCode[ErrorCodeIndex(code)]);

    /// <summary>
    /// Peers refused by the address policy, by the peer's category (<see cref="PeerAddressCategory.Public"/>: a public
    /// address in a denied range).
    /// </summary>
    public long PeersRefusedIn(PeerAddressCategory category) => Interlocked.Read(ref _peersRefusedByCategory[(int)category]);

    /// <summary>Allocate requests refused (300 or 508) because the server is draining.</summary>
    public long DrainRejections => Interlocked.Read(ref _drainRejections);

    /// <summary>RFC 6062 §5.4: client data connections bound to a peer connection.</summary>
    public long TcpConnectionsBound => Interlocked.Read(ref _tcpConnectionsBound);

    /// <summary>RFC 6062 §5.3: peer connections to a TCP relayed address closed at once (no permission, or too many).</summary>
    public long TcpPeersRefused => Interlocked.Read(ref _tcpPeersRefused);

    /// <summary>RFC 8656 §11.5: ICMP errors about relayed datagrams told to the client in a Data indication.</summary>
    public long IcmpRelayed => Interlocked.Read(ref _icmpRelayed);

    /// <summary>ICMP errors about relayed datagrams not told to the client (a type RFC 8656 §11.5 leaves out, or no permission).</summary>
    public long IcmpDropped => Interlocked.Read(ref _icmpDropped);

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

    internal void CountError(int code)
    {
        Interlocked.Increment(ref _errorResponses);
        Interlocked.Increment(ref _errorsByCode[ErrorCodeIndex(code)]);
    }

    private static int ErrorCodeIndex(int code)
    {
        int index = KnownErrorCodes.IndexOf(code);
        return index < 0 ? KnownErrorCodes.Length : index;
    }

    internal void CountAllocationCreated() => Interlocked.Increment(ref _allocationsCreated);

    internal void CountAllocationDeleted() => Interlocked.Increment(ref _allocationsDeleted);

    internal void CountDrainRejection() => Interlocked.Increment(ref _drainRejections);

    internal void CountTcpConnectionBound() => Interlocked.Increment(ref _tcpConnectionsBound);

    internal void CountTcpPeerRefused() => Interlocked.Increment(ref _tcpPeersRefused);

    internal void CountIcmp(bool relayed) => Interlocked.Increment(ref relayed ? ref _icmpRelayed : ref _icmpDropped);

    internal void CountQuotaRejection() => Interlocked.Increment(ref _quotaRejections);

    internal void CountCapacityRejection() => Interlocked.Increment(ref _capacityRejections);

    internal void CountPeerRefused(PeerAddressCategory category)
    {
        Interlocked.Increment(ref _peersRefused);
        Interlocked.Increment(ref _peersRefusedByCategory[(int)category]);
    }
}

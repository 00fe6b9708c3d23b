using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Server;

/// <summary>
/// The audit trail of allocations: one log event when an allocation is created and one when it ends, with the client's
/// address, the username, the relayed address, the lifetime and the traffic both ways (never a password or key). It
/// also keeps, per transport, the traffic of allocations that have ended, so the metrics' totals stay whole when
/// allocations go (<see cref="TrafficTotals"/>).
/// </summary>
public sealed partial class AllocationAudit(TimeProvider time, ILogger<AllocationAudit> logger) : IAllocationObserver
{
    private static readonly int TransportCount = Enum.GetValues<TransportProtocol>().Length;

    private readonly Lock _sync = new();
    private readonly TrafficCounts[] _ended = new TrafficCounts[TransportCount];
    private readonly long[] _endedByReason = new long[Enum.GetValues<AllocationEndReason>().Length];

    /// <summary>Allocations that ended for <paramref name="reason"/>.</summary>
    public long EndedFor(AllocationEndReason reason)
    {
        lock (_sync)
        {
            return _endedByReason[(int)reason];
        }
    }

    /// <summary>
    /// Traffic relayed over <paramref name="transport"/> so far: that of ended allocations plus that of the live ones in
    /// <paramref name="live"/>. Read under the same lock the ending allocations fold in under, so an allocation counts
    /// exactly once.
    /// </summary>
    public TrafficCounts[] TrafficTotals(IEnumerable<Allocation> live)
    {
        ArgumentNullException.ThrowIfNull(live);
        var totals = new TrafficCounts[TransportCount];
        lock (_sync)
        {
            Array.Copy(_ended, totals, TransportCount);
            foreach (Allocation allocation in live)
            {
                if (!allocation.IsDeleted)
                {
                    totals[(int)allocation.Tuple.Protocol] = totals[(int)allocation.Tuple.Protocol].Plus(allocation);
                }
            }
        }

        return totals;
    }

    public void Created(Allocation allocation)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        if (logger.IsEnabled(LogLevel.Information))
        {
            string relay = RelayText(allocation);
            AllocationCreated(logger, allocation.Tuple.Protocol, allocation.Tuple.Client, allocation.Username, relay,
                (allocation.ExpiresAt - allocation.CreatedAt) / time.TimestampFrequency);
        }
    }

    public void Ended(Allocation allocation, AllocationEndReason reason)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        lock (_sync)
        {
            _ended[(int)allocation.Tuple.Protocol] = _ended[(int)allocation.Tuple.Protocol].Plus(allocation);
            _endedByReason[(int)reason]++;
        }

        if (logger.IsEnabled(LogLevel.Information))
        {
            double lived = Math.Round(time.GetElapsedTime(allocation.CreatedAt).TotalSeconds, 1);
            string relay = RelayText(allocation);
            AllocationEnded(logger, allocation.Tuple.Protocol, allocation.Tuple.Client, allocation.Username, relay,
                reason, lived, allocation.PacketsToPeer, allocation.BytesToPeer, allocation.PacketsToClient, allocation.BytesToClient);
        }
    }

    /// <summary>The relayed address, or both of a dual allocation ("IPv4 and IPv6").</summary>
    private static string RelayText(Allocation allocation) => allocation.IsDual
        ? $"{allocation.RelayedAddress} and {allocation.AdditionalRelayedAddress}"
        : allocation.RelayedAddress.ToString();

    /// <summary>The label and log text of a reason.</summary>
    public static string ReasonName(AllocationEndReason reason) => reason switch
    {
        AllocationEndReason.ClientDeleted => "client_deleted",
        AllocationEndReason.Expired => "expired",
        AllocationEndReason.ConnectionClosed => "connection_closed",
        AllocationEndReason.ServerStopping => "server_stopping",
        AllocationEndReason.Revoked => "revoked",
        _ => "other",
    };

    [LoggerMessage(EventId = 300, Level = LogLevel.Information,
        Message = "Allocation created: {Transport} client {Client} user {Username} relay {Relay} lifetime {LifetimeSeconds} s")]
    private static partial void AllocationCreated(ILogger logger, TransportProtocol transport, TransportAddress client, string username,
        string relay, long lifetimeSeconds);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information,
        Message = "Allocation ended ({Reason}): {Transport} client {Client} user {Username} relay {Relay} after {DurationSeconds} s; " +
            "to peers {PacketsToPeer} packets {BytesToPeer} bytes, to client {PacketsToClient} packets {BytesToClient} bytes")]
    private static partial void AllocationEnded(ILogger logger, TransportProtocol transport, TransportAddress client, string username,
        string relay, AllocationEndReason reason, double durationSeconds, long packetsToPeer, long bytesToPeer, long packetsToClient, long bytesToClient);
}

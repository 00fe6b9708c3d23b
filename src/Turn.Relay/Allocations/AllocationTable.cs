using System.Collections.Concurrent;

namespace Turn.Relay.Allocations;

/// <summary>
/// Every live allocation, found by its 5-tuple (RFC 8656 §5) without a lock; creation and deletion serialize here,
/// which is also where the per-user and total quotas (RFC 8656 §5, §7.2 item 10: 486) are kept exact.
/// </summary>
public sealed class AllocationTable
{
    private readonly ConcurrentDictionary<FiveTuple, Allocation> _byTuple = new();
    private readonly Dictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();
    private readonly IAllocationObserver? _observer;
    private int _pendingSlots;

    public AllocationTable()
    {
    }

    /// <param name="observer">Told of every allocation created and ended (audit log, traffic totals).</param>
    public AllocationTable(IAllocationObserver? observer) => _observer = observer;

    public int Count => _byTuple.Count;

    /// <summary>
    /// The other nodes of a cluster, whose allocations count toward the per-user quota too (null: this node alone).
    /// Set once at start.
    /// </summary>
    public IClusterAllocationView? Cluster { get; set; }

    /// <summary>Allocations per username on this node, live and being made (what this node tells the cluster).</summary>
    public Dictionary<string, int> CountsByUser()
    {
        lock (_sync)
        {
            return new Dictionary<string, int>(_perUser, StringComparer.Ordinal);
        }
    }

    public bool TryGet(in FiveTuple tuple, out Allocation allocation) => _byTuple.TryGetValue(tuple, out allocation!);

    public int CountForUser(string username)
    {
        lock (_sync)
        {
            return _perUser.GetValueOrDefault(username);
        }
    }

    /// <summary>
    /// Reserves a quota slot for a user before a relay port is taken; false when a quota is full. The per-user quota
    /// counts the user's allocations on the other nodes of a cluster too; the total quota is this node's.
    /// </summary>
    internal bool TryReserveSlot(string username, int userQuota, int totalQuota)
    {
        int elsewhere = userQuota > 0 ? Cluster?.AllocationsElsewhere(username) ?? 0 : 0;
        lock (_sync)
        {
            int user = _perUser.GetValueOrDefault(username) + elsewhere;
            int total = _byTuple.Count + _pendingSlots;
            if ((userQuota > 0 && user >= userQuota) || (totalQuota > 0 && total >= totalQuota))
            {
                return false;
            }

            _perUser[username] = user - elsewhere + 1;
            _pendingSlots++;
            return true;
        }
    }

    /// <summary>Gives back a slot reserved by <see cref="TryReserveSlot"/> when the allocation was not made.</summary>
    internal void ReleaseSlot(string username)
    {
        lock (_sync)
        {
            _pendingSlots--;
            DecrementUser(username);
        }
    }

    /// <summary>Turns a reserved slot into a live allocation; false (slot released) when the 5-tuple got one meanwhile.</summary>
    internal bool TryAdd(Allocation allocation)
    {
        lock (_sync)
        {
            _pendingSlots--;
            if (_byTuple.TryAdd(allocation.Tuple, allocation))
            {
                return true;
            }

            DecrementUser(allocation.Username);
            return false;
        }
    }

    /// <summary>Tells the observer about an allocation that <see cref="TryAdd"/> took and that is ready to relay.</summary>
    internal void NotifyCreated(Allocation allocation) => _observer?.Created(allocation);

    /// <summary>Every live allocation, without a copy (for metrics: counts of permissions, channels and traffic).</summary>
    public IEnumerable<Allocation> Live
    {
        get
        {
            foreach (var (_, allocation) in _byTuple)
            {
                yield return allocation;
            }
        }
    }

    /// <summary>Deletes an allocation and releases its relay endpoint (RFC 8656 §6: its permissions and channels go with it).</summary>
    internal bool Remove(Allocation allocation, AllocationEndReason reason)
    {
        if (!allocation.MarkDeleted())
        {
            return false;
        }

        lock (_sync)
        {
            _byTuple.TryRemove(new KeyValuePair<FiveTuple, Allocation>(allocation.Tuple, allocation));
            DecrementUser(allocation.Username);
        }

        allocation.DisposeRelays();
        _observer?.Ended(allocation, reason);
        return true;
    }

    /// <summary>Removes expired allocations and the expired permissions and channels of live ones; returns how many went.</summary>
    public int Sweep(long now)
    {
        int removed = 0;
        // Enumerating the map itself (not .Values) avoids copying every allocation into a list once a second.
        foreach (var (_, allocation) in _byTuple)
        {
            if (!allocation.IsLive(now))
            {
                if (Remove(allocation, AllocationEndReason.Expired))
                {
                    removed++;
                }
            }
            else
            {
                allocation.RemoveExpired(now);
            }
        }

        return removed;
    }

    /// <summary>Deletes the allocations of every username <paramref name="matches"/> picks; returns how many went.</summary>
    public int RemoveWhere(Func<string, bool> matches, AllocationEndReason reason)
    {
        ArgumentNullException.ThrowIfNull(matches);
        return RemoveAllocationsWhere(allocation => matches(allocation.Username), reason);
    }

    /// <summary>Deletes every allocation <paramref name="matches"/> picks; returns how many went.</summary>
    public int RemoveAllocationsWhere(Func<Allocation, bool> matches, AllocationEndReason reason)
    {
        ArgumentNullException.ThrowIfNull(matches);
        int removed = 0;
        foreach (var (_, allocation) in _byTuple)
        {
            if (matches(allocation) && Remove(allocation, reason))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Deletes everything (server shutdown).</summary>
    public void Clear()
    {
        foreach (Allocation allocation in _byTuple.Values)
        {
            Remove(allocation, AllocationEndReason.ServerStopping);
        }
    }

    private void DecrementUser(string username)
    {
        int user = _perUser.GetValueOrDefault(username);
        if (user <= 1)
        {
            _perUser.Remove(username);
        }
        else
        {
            _perUser[username] = user - 1;
        }
    }
}

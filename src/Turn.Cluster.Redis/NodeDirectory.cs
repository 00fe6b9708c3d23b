using Turn.Relay;
using Turn.Stun;

namespace Turn.Cluster.Redis;

/// <summary>
/// The other nodes of the region as this node last read them from the registry, and the choice of where a full or
/// draining node sends a new allocation: the least loaded healthy node that serves the client's transport and family.
/// </summary>
/// <remarks>
/// Healthy: its lease is alive (it is in the registry at all), it is not draining, not full, and its heartbeat moved
/// within the last <see cref="StaleAfter"/> reads (a node that stopped heartbeating is not chosen, even before its lease
/// runs out). Least loaded, in this order: not busy (CPU below <see cref="ClusterNode.BusyCpu"/>) first; then the lowest
/// fill (allocations over --total-quota, 0 for a node without one); then the fewest allocations; then the node id. The
/// clients sent to a node since its last report count as its allocations, so a burst of redirects spreads over the
/// nodes instead of all landing on the one that was least loaded a second ago.
/// </remarks>
public sealed class NodeDirectory : IClusterAlternates
{
    /// <summary>Reads in a row that saw a node's heartbeat sequence unchanged before it counts as stale.</summary>
    public const int StaleAfter = 3;

    private readonly Dictionary<string, (long Sequence, int Unchanged)> _progress = new(StringComparer.Ordinal);
    private Snapshot _snapshot = new([], []);

    /// <summary>The other nodes as last read, with whether each is healthy enough to be sent clients.</summary>
    public IReadOnlyList<(ClusterNode Node, bool Stale)> Nodes
    {
        get
        {
            Snapshot snapshot = Volatile.Read(ref _snapshot);
            return [.. snapshot.Nodes.Select((n, i) => (n, snapshot.Stale[i]))];
        }
    }

    /// <summary>Replaces the view with the nodes read at this heartbeat (called from one thread at a time).</summary>
    public void Update(IReadOnlyList<ClusterNode> others)
    {
        ArgumentNullException.ThrowIfNull(others);
        var stale = new bool[others.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < others.Count; i++)
        {
            ClusterNode node = others[i];
            seen.Add(node.Id);
            int unchanged = _progress.TryGetValue(node.Id, out var last) && last.Sequence == node.Sequence ? last.Unchanged + 1 : 0;
            _progress[node.Id] = (node.Sequence, unchanged);
            stale[i] = unchanged >= StaleAfter;
        }

        foreach (string gone in _progress.Keys.Where(id => !seen.Contains(id)).ToList())
        {
            _progress.Remove(gone);
        }

        Volatile.Write(ref _snapshot, new Snapshot([.. others], stale));
    }

    /// <summary>Forgets every node (the registry cannot be read): a full or draining node then has no cluster alternate.</summary>
    public void Clear()
    {
        _progress.Clear();
        Volatile.Write(ref _snapshot, new Snapshot([], []));
    }

    public bool TryPick(TransportProtocol protocol, StunAddressFamily family, out TransportAddress alternate)
    {
        Snapshot snapshot = Volatile.Read(ref _snapshot);
        int best = -1;
        TransportAddress bestAddress = default;
        for (int i = 0; i < snapshot.Nodes.Length; i++)
        {
            ClusterNode node = snapshot.Nodes[i];
            NodeReport report = node.Report;
            int allocations = report.Allocations + Volatile.Read(ref snapshot.Sent[i]);
            if (snapshot.Stale[i] || report.Draining || (report.Capacity > 0 && allocations >= report.Capacity)
                || !node.TryAddress(protocol, family, out TransportAddress address))
            {
                continue;
            }

            if (best < 0 || Less(snapshot, i, best))
            {
                best = i;
                bestAddress = address;
            }
        }

        if (best < 0)
        {
            alternate = default;
            return false;
        }

        Interlocked.Increment(ref snapshot.Sent[best]);
        alternate = bestAddress;
        return true;
    }

    /// <summary>Whether node <paramref name="a"/> is less loaded than node <paramref name="b"/>.</summary>
    private static bool Less(Snapshot snapshot, int a, int b)
    {
        ClusterNode x = snapshot.Nodes[a];
        ClusterNode y = snapshot.Nodes[b];
        if (x.Busy != y.Busy)
        {
            return !x.Busy;
        }

        int allocationsX = x.Report.Allocations + Volatile.Read(ref snapshot.Sent[a]);
        int allocationsY = y.Report.Allocations + Volatile.Read(ref snapshot.Sent[b]);
        double fillX = x.Report.Capacity > 0 ? (double)allocationsX / x.Report.Capacity : 0;
        double fillY = y.Report.Capacity > 0 ? (double)allocationsY / y.Report.Capacity : 0;
        if (fillX != fillY)
        {
            return fillX < fillY;
        }

        return allocationsX != allocationsY ? allocationsX < allocationsY : string.CompareOrdinal(x.Id, y.Id) < 0;
    }

    private sealed class Snapshot(ClusterNode[] nodes, bool[] stale)
    {
        public ClusterNode[] Nodes { get; } = nodes;

        public bool[] Stale { get; } = stale;

        /// <summary>Clients sent to each node since this snapshot was read.</summary>
#pragma warning disable CA1051, SA1401 // a field, for Interlocked
        public readonly int[] Sent = new int[nodes.Length];
#pragma warning restore CA1051, SA1401
    }
}

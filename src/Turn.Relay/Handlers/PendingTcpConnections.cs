using System.Security.Cryptography;
using Turn.Relay.Allocations;

namespace Turn.Relay.Handlers;

/// <summary>
/// RFC 6062 §5.2, §5.3: peer connections waiting for their ConnectionBind, by CONNECTION-ID. An id is random, never 0
/// and unique among those waiting; a connection not bound within its time is closed by <see cref="Sweep"/>.
/// </summary>
internal sealed class PendingTcpConnections
{
    private readonly Lock _sync = new();
    private readonly Dictionary<uint, Entry> _byId = [];

    /// <summary>Connections waiting for a ConnectionBind.</summary>
    public int Count
    {
        get
        {
            lock (_sync)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Registers a connection until <paramref name="expiresAt"/> and returns its CONNECTION-ID.</summary>
    public uint Add(Allocation allocation, ITcpPeerConnection connection, long expiresAt)
    {
        Span<byte> random = stackalloc byte[4];
        lock (_sync)
        {
            uint id;
            do
            {
                RandomNumberGenerator.Fill(random);
                id = BitConverter.ToUInt32(random);
            }
            while (id == 0 || _byId.ContainsKey(id));

            _byId[id] = new Entry(allocation, connection, expiresAt);
            return id;
        }
    }

    /// <summary>The connection waiting under <paramref name="id"/>, left in place.</summary>
    public bool TryPeek(uint id, out Entry entry)
    {
        lock (_sync)
        {
            return _byId.TryGetValue(id, out entry);
        }
    }

    /// <summary>Takes the connection waiting under <paramref name="id"/>, if any.</summary>
    public bool TryTake(uint id, out Entry entry)
    {
        lock (_sync)
        {
            return _byId.Remove(id, out entry);
        }
    }

    /// <summary>Puts back a connection taken by <see cref="TryTake"/> that was not bound after all.</summary>
    public void Restore(uint id, in Entry entry)
    {
        lock (_sync)
        {
            _byId.TryAdd(id, entry);
        }
    }

    /// <summary>Closes the connections whose time to be bound has passed, and those of allocations that are gone.</summary>
    public int Sweep(long now)
    {
        List<ITcpPeerConnection>? expired = null;
        lock (_sync)
        {
            foreach (var (id, entry) in _byId)
            {
                if (now >= entry.ExpiresAt || entry.Allocation.IsDeleted || entry.Connection.IsClosed)
                {
                    _byId.Remove(id);
                    (expired ??= []).Add(entry.Connection);
                }
            }
        }

        if (expired is null)
        {
            return 0;
        }

        foreach (ITcpPeerConnection connection in expired)
        {
            connection.Dispose();
        }

        return expired.Count;
    }

    internal readonly record struct Entry(Allocation Allocation, ITcpPeerConnection Connection, long ExpiresAt);
}

namespace Turn.Transports;

/// <summary>
/// The most client connections (TCP and TLS together) the server holds open at once. Each connection takes a slot when
/// it is accepted and gives it back when it closes; a connection that finds no slot is closed at once, before any
/// handshake, so a connection flood costs the server a descriptor for an instant and nothing more.
/// </summary>
public sealed class ConnectionLimit
{
    private int _open;

    public ConnectionLimit(int max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        Max = max;
    }

    public int Max { get; }

    /// <summary>Connections holding a slot now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>Takes a slot; false when all <see cref="Max"/> are taken.</summary>
    public bool TryAcquire()
    {
        int open = Volatile.Read(ref _open);
        while (open < Max)
        {
            int seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}

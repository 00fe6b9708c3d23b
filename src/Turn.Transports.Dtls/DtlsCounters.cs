namespace Turn.Transports.Dtls;

/// <summary>
/// DTLS events, counted lock-free, shared by every DTLS listener of the server; it also holds the number of open
/// associations, so the cap applies to the server as a whole.
/// </summary>
public sealed class DtlsCounters
{
    private long _helloVerifyRequestsSent;
    private long _associationsOpened;
    private long _handshakesFailed;
    private long _associationsRejected;
    private long _associationsClosedIdle;
    private long _associationsReplaced;
    private long _datagramsDropped;
    private long _recordsReceived;
    private long _recordsSent;
    private long _sendsDropped;
    private int _active;

    /// <summary>HelloVerifyRequests sent (RFC 6347 §4.2.1): ClientHellos without a valid cookie, answered statelessly.</summary>
    public long HelloVerifyRequestsSent => Interlocked.Read(ref _helloVerifyRequestsSent);

    /// <summary>Associations whose handshake completed.</summary>
    public long AssociationsOpened => Interlocked.Read(ref _associationsOpened);

    /// <summary>Associations closed during the handshake: it failed or took longer than the handshake timeout.</summary>
    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    /// <summary>ClientHellos with a valid cookie turned away because the association cap was reached.</summary>
    public long AssociationsRejected => Interlocked.Read(ref _associationsRejected);

    /// <summary>Associations without an allocation closed because nothing arrived within the idle timeout.</summary>
    public long AssociationsClosedIdle => Interlocked.Read(ref _associationsClosedIdle);

    /// <summary>Established associations replaced by a new handshake from the same address and port (RFC 6347 §4.2.8).</summary>
    public long AssociationsReplaced => Interlocked.Read(ref _associationsReplaced);

    /// <summary>Datagrams dropped: not a ClientHello from an unknown address, or the association's queue was full.</summary>
    public long DatagramsDropped => Interlocked.Read(ref _datagramsDropped);

    /// <summary>Application records decrypted and handed to the engine.</summary>
    public long RecordsReceived => Interlocked.Read(ref _recordsReceived);

    /// <summary>Application records encrypted and sent (answers and relayed data).</summary>
    public long RecordsSent => Interlocked.Read(ref _recordsSent);

    /// <summary>Messages for a client dropped because its association was closed or could not send.</summary>
    public long SendsDropped => Interlocked.Read(ref _sendsDropped);

    /// <summary>Associations open right now (handshaking or established).</summary>
    public int ActiveAssociations => Volatile.Read(ref _active);

    /// <summary>Takes a place for a new association unless <paramref name="cap"/> are open already.</summary>
    internal bool TryReserveAssociation(int cap)
    {
        while (true)
        {
            int active = Volatile.Read(ref _active);
            if (active >= cap)
            {
                Interlocked.Increment(ref _associationsRejected);
                return false;
            }

            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active)
            {
                return true;
            }
        }
    }

    internal void ReleaseAssociation() => Interlocked.Decrement(ref _active);

    internal void CountHelloVerifyRequestSent() => Interlocked.Increment(ref _helloVerifyRequestsSent);

    internal void CountAssociationOpened() => Interlocked.Increment(ref _associationsOpened);

    internal void CountHandshakeFailed() => Interlocked.Increment(ref _handshakesFailed);

    internal void CountClosedIdle() => Interlocked.Increment(ref _associationsClosedIdle);

    internal void CountAssociationReplaced() => Interlocked.Increment(ref _associationsReplaced);

    internal void CountDatagramDropped() => Interlocked.Increment(ref _datagramsDropped);

    internal void CountRecordReceived() => Interlocked.Increment(ref _recordsReceived);

    internal void CountRecordSent() => Interlocked.Increment(ref _recordsSent);

    internal void CountSendDropped() => Interlocked.Increment(ref _sendsDropped);
}

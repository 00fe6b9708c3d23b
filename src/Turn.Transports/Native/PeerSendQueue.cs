using System.Net.Sockets;

namespace Turn.Transports.Native;

/// <summary>
/// Datagrams for peers that a listening socket's thread collects while it handles one received batch, sent with one
/// sendmmsg per run of datagrams for the same relay socket (a client streaming media sends runs like that). Only
/// payloads that lie in the thread's receive slots are queued, since those stay put until the thread flushes before
/// its next receive; anything else is sent at once by the caller. The relay socket's handle is referenced while
/// datagrams for it wait, so an allocation deleted in the same batch still sends what it relayed before.
/// </summary>
internal sealed unsafe class PeerSendQueue : IDisposable
{
    [ThreadStatic]
    private static PeerSendQueue? t_current;

    private readonly ReceiveBatch _source;
    private readonly SendBatch _batch;
    private readonly TransportCounters _counters;
    private SafeSocketHandle? _handle;
    private NativeRelayEndpoint? _endpoint;

    public PeerSendQueue(ReceiveBatch source, TransportCounters counters)
        : this(source, counters, segmentation: false)
    {
    }

    /// <param name="source">The receive batch whose slots may be queued.</param>
    /// <param name="counters">Where sends and drops are counted.</param>
    /// <param name="segmentation">Send runs of equal datagrams to one peer with UDP GSO (<see cref="SendBatch.Segmentation"/>).</param>
    public PeerSendQueue(ReceiveBatch source, TransportCounters counters, bool segmentation)
    {
        _source = source;
        _counters = counters;
        _batch = new SendBatch(source.Capacity) { Segmentation = segmentation };
    }

    /// <summary>The queue of the calling thread, if it is a listening socket's thread.</summary>
    public static PeerSendQueue? Current => t_current;

    /// <summary>Makes this the calling thread's queue.</summary>
    public void Activate() => t_current = this;

    /// <summary>Queues one datagram; false when the caller must send it itself.</summary>
    public bool TryAdd(NativeRelayEndpoint endpoint, byte* data, int length, ReadOnlySpan<byte> address)
    {
        if (!_source.Contains(data, length))
        {
            return false;
        }

        if (!ReferenceEquals(_endpoint, endpoint))
        {
            Flush();
            bool added = false;
            try
            {
                endpoint.Handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                // Deleted already: nothing to send from.
                return true;
            }

            _endpoint = endpoint;
            _handle = endpoint.Handle;
        }
        else if (_batch.IsFull)
        {
            Send();
        }

        _batch.Add(data, length, address);
        return true;
    }

    /// <summary>
    /// Called before <paramref name="endpoint"/>'s socket is closed: sends what this thread queued for it and drops
    /// the reference, since closing a socket waits for every reference to go (here that would be for ever).
    /// </summary>
    public static void Release(NativeRelayEndpoint endpoint)
    {
        if (t_current is { } queue && ReferenceEquals(queue._endpoint, endpoint))
        {
            queue.Flush();
        }
    }

    /// <summary>Sends everything queued and lets go of the relay socket.</summary>
    public void Flush()
    {
        if (_handle is null)
        {
            return;
        }

        Send();
        _handle.DangerousRelease();
        _handle = null;
        _endpoint = null;
    }

    public void Dispose()
    {
        Flush();
        if (ReferenceEquals(t_current, this))
        {
            t_current = null;
        }

        _batch.Dispose();
    }

    private void Send()
    {
        int count = _batch.Count;
        if (count == 0 || _handle is null)
        {
            return;
        }

        int sent = _batch.Flush((int)_handle.DangerousGetHandle());
        _counters.CountRelayedToPeer(sent);
        if (sent < count)
        {
            _counters.CountSendErrors(count - sent);
        }
    }
}

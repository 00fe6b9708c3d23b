using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Tls;
using Turn.Relay;
using Turn.Relay.Allocations;

namespace Turn.Transports.Dtls;

/// <summary>
/// One DTLS association: a client 5-tuple for the engine (RFC 8656 §5, TURN over DTLS). The listener hands it the
/// datagrams from its client; a thread of its own runs BouncyCastle's blocking handshake and then reads application
/// records, one STUN or ChannelData message each (framed like UDP), and passes them to the engine. Answers and data
/// relayed from peers leave encrypted through the same association. When it ends (close_notify, fatal alert, handshake
/// failure or timeout, idle timeout without an allocation, server stop) its allocation is deleted.
/// </summary>
internal sealed class DtlsAssociation : DatagramTransport, IClientTransport, IClientSender
{
    /// <summary>Datagrams waiting for the association's thread at most; beyond it they are dropped (UDP is lossy).</summary>
    private const int MaxQueuedDatagrams = 64;

    /// <summary>How often the thread wakes without traffic to check the idle timeout and a close.</summary>
    private const int PollMillis = 500;

    /// <summary>Largest datagram taken from the client; larger ones are cut and then fail to authenticate.</summary>
    private const int ReceiveLimit = 8192 + 256;

    /// <summary>Largest datagram of a handshake flight; larger handshake messages are fragmented (RFC 6347 §4.2.3).</summary>
    private const int SendLimit = 1400;

    /// <summary>How long a replacing association waits for the one it replaces to end.</summary>
    private static readonly TimeSpan PredecessorTimeout = TimeSpan.FromSeconds(2);

    // Monitor, not Lock: the thread waits on it for the next datagram.
    private readonly object _sync = new();
    private readonly Queue<byte[]> _inbound = new();
    private readonly Socket _socket;
    private readonly SocketAddress _remote;
    private readonly DtlsAssociationContext _context;
    private readonly DtlsRequest _request;
    private readonly TurnDtlsServer _server;
    private readonly Thread _thread;
    private readonly byte[] _clientRandom;
    private readonly DtlsAssociation? _predecessor;
    private volatile DtlsTransport? _dtls;
    private volatile bool _closed;
    private volatile bool _stopping;

    /// <param name="clientRandom">The random of the ClientHello that opens this association.</param>
    /// <param name="predecessor">
    /// The association this one replaces (the client started over from the same address and port); its thread ends, and
    /// its allocation is deleted, before this handshake starts, since both have the same 5-tuple.
    /// </param>
    public DtlsAssociation(Socket socket, SocketAddress remote, in FiveTuple tuple, DtlsRequest request, TurnDtlsServer server,
        DtlsAssociationContext context, ReadOnlySpan<byte> clientRandom, DtlsAssociation? predecessor)
    {
        _clientRandom = clientRandom.ToArray();
        _predecessor = predecessor;
        _socket = socket;
        _remote = remote;
        Tuple = tuple;
        _request = request;
        _server = server;
        _context = context;
        RemoteEndPoint = tuple.Client.ToIPEndPoint();
        // Blocked in a wait nearly all the time: a small stack is plenty.
        _thread = new Thread(Run, maxStackSize: 256 * 1024) { IsBackground = true, Name = "dtls " + RemoteEndPoint };
    }

    public FiveTuple Tuple { get; }

    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>True once the handshake completed (records are application data from then on).</summary>
    public bool IsEstablished => _dtls is not null;

    /// <summary>True when <paramref name="clientRandom"/> is the random of the ClientHello that opened this association.</summary>
    public bool OpenedBy(ReadOnlySpan<byte> clientRandom) => clientRandom.SequenceEqual(_clientRandom);

    public void Start() => _thread.Start();

    /// <summary>Waits for the association's thread to end (after <see cref="Close"/>).</summary>
    public bool Join(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>A datagram from the client (copied); dropped when the thread is that far behind or the association is closed.</summary>
    public void Deliver(ReadOnlySpan<byte> datagram)
    {
        bool wellFormed = DtlsRecords.AreWellFormed(datagram, _server.MinimumCiphertextLength, IsEstablished);
        lock (_sync)
        {
            if (_closed || _inbound.Count >= MaxQueuedDatagrams || !wellFormed)
            {
                _context.Counters.CountDatagramDropped();
                return;
            }

            _inbound.Enqueue(datagram.ToArray());
            Monitor.Pulse(_sync);
        }
    }

    // ---- IClientTransport / IClientSender: the engine's way back to the client ----

    /// <summary>RFC 8656 §5: data for an allocation made over this association goes back through it.</summary>
    public IClientSender CreateSender(in FiveTuple tuple) => this;

    /// <summary>One message (an answer, a Data indication or ChannelData) in one application record.</summary>
    public void Send(ReadOnlySpan<byte> message)
    {
        DtlsTransport? dtls = _dtls;
        if (dtls is null || _closed)
        {
            _context.Counters.CountSendDropped();
            return;
        }

        try
        {
            dtls.Send(message);
            _context.Counters.CountRecordSent();
        }
#pragma warning disable CA1031 // A failed send (closed, socket error) drops this message; the receiving thread sees the end.
        catch (Exception)
#pragma warning restore CA1031
        {
            _context.Counters.CountSendDropped();
        }
    }

    // ---- DatagramTransport: what BouncyCastle reads from and writes to ----

    public int GetReceiveLimit() => ReceiveLimit;

    public int GetSendLimit() => SendLimit;

    public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

    /// <summary>
    /// The next datagram from the client, waiting at most <paramref name="waitMillis"/> (0: a while); -1 when none came.
    /// Throws once closed, which ends whatever BouncyCastle is doing.
    /// </summary>
    public int Receive(Span<byte> buffer, int waitMillis)
    {
        byte[]? datagram;
        lock (_sync)
        {
            if (_inbound.Count == 0 && !_closed)
            {
                Monitor.Wait(_sync, waitMillis <= 0 ? PollMillis : Math.Min(waitMillis, PollMillis));
            }

            ObjectDisposedException.ThrowIf(_closed, this);
            _inbound.TryDequeue(out datagram);
        }

        if (datagram is null)
        {
            return -1;
        }

        int length = Math.Min(datagram.Length, buffer.Length);
        datagram.AsSpan(0, length).CopyTo(buffer);
        return length;
    }

    public void Send(byte[] buf, int off, int len) => SendDatagram(buf.AsSpan(off, len));

    void DatagramSender.Send(ReadOnlySpan<byte> buffer) => SendDatagram(buffer);

    private void SendDatagram(ReadOnlySpan<byte> datagram)
    {
        try
        {
            _socket.SendTo(datagram, SocketFlags.None, _remote);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // UDP: a datagram that cannot leave is lost like any other (or the listener is closing).
        }
    }

    /// <summary>Ends the association from the server's side: close_notify once established, then <see cref="Close"/>.</summary>
    public void Shutdown()
    {
        _stopping = true;
        try
        {
            _dtls?.Close();
        }
#pragma warning disable CA1031 // Closing is best effort.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        Close();
    }

    /// <summary>Ends the association: wakes its thread, which then closes it for good.</summary>
    public void Close()
    {
        lock (_sync)
        {
            _closed = true;
            _inbound.Clear();
            Monitor.PulseAll(_sync);
        }
    }

    private void Run()
    {
        string reason = "closed by peer";
        DtlsTransport? dtls = null;
        try
        {
            if (_predecessor is not null && !_predecessor.Join(PredecessorTimeout))
            {
                reason = "the association it replaces did not end";
                return;
            }

            dtls = new DtlsServerProtocol().Accept(_server, this, _request);
            _dtls = dtls;
            _context.Counters.CountAssociationOpened();
            DtlsLog.AssociationOpened(_context.Logger, RemoteEndPoint);
            reason = Serve(dtls);
        }
        catch (TlsFatalAlertReceived ex)
        {
            reason = "alert from client: " + AlertDescription.GetText(ex.AlertDescription);
        }
        catch (TlsTimeoutException)
        {
            reason = "handshake timeout";
        }
#pragma warning disable CA1031 // Whatever ends one association must not reach anyone else.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            reason = ex.GetType().Name + ": " + ex.Message;
        }
        finally
        {
            Finish(dtls, reason);
        }
    }

    /// <summary>Reads application records until the association ends; returns why it ended.</summary>
    private string Serve(DtlsTransport dtls)
    {
        byte[] record = new byte[ReceiveLimit];
        byte[] response = new byte[StunMessageProcessor.MaxResponseLength];
        long lastActivity = Environment.TickCount64;
        long idleMillis = (long)_context.Limits.IdleTimeout.TotalMilliseconds;
        while (!_closed)
        {
            int received = dtls.Receive(record, 0, record.Length, PollMillis);
            if (received > 0)
            {
                lastActivity = Environment.TickCount64;
                _context.Counters.CountRecordReceived();
                int answer = ListenerDispatch.Process(_context.Processor, record.AsSpan(0, received), Tuple, this, response,
                    _context.ErrorThrottle, _context.Logger, _context.LocalEndPoint);
                if (answer > 0)
                {
                    Send(response.AsSpan(0, answer));
                }

                continue;
            }

            if (Environment.TickCount64 - lastActivity >= idleMillis && !_context.Processor.HasAllocation(Tuple))
            {
                _context.Counters.CountClosedIdle();
                return "idle timeout";
            }
        }

        return _stopping ? "server stopping" : "close_notify";
    }

    private void Finish(DtlsTransport? dtls, string reason)
    {
        if (dtls is null)
        {
            _context.Counters.CountHandshakeFailed();
        }
        else
        {
            // Like a TCP connection's (RFC 8656 §5): the allocation ends with the association.
            _context.Processor.ConnectionClosed(Tuple);
            try
            {
                // Sends close_notify unless the association failed or the client closed it already.
                dtls.Close();
            }
#pragma warning disable CA1031 // Closing is best effort.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        Close();
        _context.Remove(this);
        DtlsLog.AssociationClosed(_context.Logger, RemoteEndPoint, reason);
    }
}

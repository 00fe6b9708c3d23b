using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Turn.Relay;
using Turn.Relay.Allocations;

namespace Turn.Transports;

/// <summary>
/// The sending side of one client connection over a byte stream (TCP, later TLS): every message for the client, the
/// answers to its requests and the data relayed to it from peers (RFC 8656 §11.3, §12.5), goes through one bounded
/// <see cref="Pipe"/> and one writer loop, so messages never interleave on the stream. A client that stops reading
/// cannot make the server buffer without limit: once <see cref="MaxBufferedBytes"/> wait unsent, new messages are
/// dropped and counted until the client catches up (relayed media is lossy by nature; a request's client retransmits).
/// Copying into the pipe's pooled segments allocates nothing per message. Over plain TCP a message goes straight to the
/// socket with one non-blocking send while nothing waits in the pipe, so the common case costs no hand-over to the
/// writer loop; whatever the socket does not take waits in the pipe, behind which later messages queue in order.
/// </summary>
internal sealed class StreamClientConnection : IClientTransport, IClientSender, IDataConnectionTransport
{
    /// <summary>Unsent bytes held for one connection at most.</summary>
    public const int MaxBufferedBytes = 256 * 1024;

    private readonly Pipe _output = new(new PipeOptions(
        pauseWriterThreshold: MaxBufferedBytes, resumeWriterThreshold: MaxBufferedBytes / 2, useSynchronizationContext: false));

    private readonly Lock _sync = new();
    private readonly TransportCounters _counters;
    private readonly Socket? _directSocket;
    private Task? _pendingFlush;
    private TcpPeerConnection? _boundPeer;
    private Allocation? _boundAllocation;
    private long _queuedBytes;
    private bool _completed;

    /// <param name="tuple">The connection's 5-tuple.</param>
    /// <param name="counters">Where sends and drops are counted.</param>
    /// <param name="directSocket">
    /// The connection's socket when the stream is the socket itself (plain TCP), put in non-blocking mode here: messages
    /// are sent on it directly while nothing is queued. Null for TLS, where every byte goes through the stream.
    /// </param>
    public StreamClientConnection(in FiveTuple tuple, TransportCounters counters, Socket? directSocket = null)
    {
        Tuple = tuple;
        _counters = counters;
        _directSocket = directSocket;
        if (directSocket is not null)
        {
            // Only the synchronous send below is affected; the stream's asynchronous reads and writes are not.
            directSocket.Blocking = false;
        }
    }

    public FiveTuple Tuple { get; }

    /// <summary>RFC 6062 §5.4: the peer connection this became the data connection of, after a ConnectionBind; else null.</summary>
    public TcpPeerConnection? BoundPeer
    {
        get
        {
            lock (_sync)
            {
                return _boundPeer;
            }
        }
    }

    /// <summary>The TCP allocation of <see cref="BoundPeer"/>.</summary>
    public Allocation? BoundAllocation
    {
        get
        {
            lock (_sync)
            {
                return _boundAllocation;
            }
        }
    }

    /// <inheritdoc />
    public bool TryBindPeer(ITcpPeerConnection peer, Allocation allocation)
    {
        lock (_sync)
        {
            if (peer is not TcpPeerConnection tcp || _completed || _boundPeer is not null)
            {
                return false;
            }

            _boundPeer = tcp;
            _boundAllocation = allocation;
            return true;
        }
    }

    /// <summary>RFC 8656 §11.3, §12.5: data for an allocation made over this connection goes back on it.</summary>
    public IClientSender CreateSender(in FiveTuple tuple) => this;

    public void Send(ReadOnlySpan<byte> message)
    {
        lock (_sync)
        {
            if (_completed || _pendingFlush is { IsCompleted: false })
            {
                // Closed, or the client has not read what is already waiting: drop rather than grow.
                _counters.CountStreamSendDropped();
                return;
            }

            if (_directSocket is not null && _queuedBytes == 0)
            {
                int sent = _directSocket.Send(message, SocketFlags.None, out SocketError error);
                if (error is not (SocketError.Success or SocketError.WouldBlock))
                {
                    // The connection is failing; its reader notices and closes it.
                    _counters.CountStreamSendDropped();
                    return;
                }

                if (sent == message.Length)
                {
                    _counters.CountDatagramSent();
                    return;
                }

                // The socket's buffer is full: the rest waits for the writer loop, and everything after it too.
                message = message[sent..];
            }

            _queuedBytes += message.Length;
            PipeWriter writer = _output.Writer;
            message.CopyTo(writer.GetSpan(message.Length));
            writer.Advance(message.Length);
            ValueTask<FlushResult> flush = writer.FlushAsync();
            _pendingFlush = flush.IsCompletedSuccessfully ? null : flush.AsTask();
        }

        _counters.CountDatagramSent();
    }

    /// <summary>Writes what is sent to <paramref name="stream"/> until <see cref="Complete"/> or a write fails.</summary>
    public async Task RunWriterAsync(Stream stream, CancellationToken cancellationToken)
    {
        PipeReader reader = _output.Reader;
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                foreach (ReadOnlyMemory<byte> segment in buffer)
                {
                    await stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
                }

                lock (_sync)
                {
                    // Written: once nothing is queued, messages may go to the socket directly again.
                    _queuedBytes -= buffer.Length;
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The connection is going away; the reader side reports why.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            Complete();
        }
    }

    /// <summary>No more messages: the writer loop sends what is buffered and ends.</summary>
    public void Complete()
    {
        lock (_sync)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            _output.Writer.Complete();
        }
    }
}

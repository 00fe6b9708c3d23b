using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// A TCP listening socket and its connections. Each connection reads through a <see cref="PipeReader"/>, cuts the
/// byte stream into STUN and ChannelData frames (RFC 8489 §6.2.2, RFC 8656 §12.5), answers each on the same
/// connection (RFC 8489 §6.3.1.2), closes the connection when the stream cannot be framed, and closes it when
/// nothing arrives within the idle timeout. TURN runs over it like over UDP (RFC 8656 §5): an allocation made over a
/// connection sends its peers' data back on it (<see cref="StreamClientConnection"/>, bounded), and is deleted when
/// the connection closes.
/// </summary>
public sealed class TcpStunListener : IAsyncDisposable
{
    private const int Backlog = 512;

    /// <summary>Unsent bytes held for one client connection at most; beyond it, messages for it are dropped.</summary>
    public const int MaxBufferedBytesPerConnection = StreamClientConnection.MaxBufferedBytes;

    /// <summary>How long a closing connection may take to send what is still buffered for it.</summary>
    private static readonly TimeSpan WriterDrainTimeout = TimeSpan.FromSeconds(2);

    /// <summary>What one read from a peer connection of a TCP relay takes at most (RFC 6062 data connections).</summary>
    private const int SpliceBufferSize = 16 * 1024;

    private readonly Socket _listener;
    private readonly StunMessageProcessor _processor;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly TimeSpan _idleTimeout;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly TransportAddress _serverAddress;
    private readonly ErrorLogThrottle _errorThrottle = new();
    private readonly TlsCertificateSource? _tls;
    private readonly TimeSpan _handshakeTimeout;
    private readonly CipherSuitesPolicy? _cipherSuites;
    private readonly ConnectionLimit? _limit;
    private readonly ErrorLogThrottle _limitLogThrottle = new();
    private Task _acceptLoop = Task.CompletedTask;

    /// <summary>RFC 7443: the ALPN names of TURN and of STUN NAT discovery.</summary>
    private static readonly List<SslApplicationProtocol> AlpnProtocols = [new("stun.turn"), new("stun.nat-discovery")];

    private TcpStunListener(Socket listener, StunMessageProcessor processor, TransportCounters counters, TimeSpan idleTimeout, ILogger logger,
        TlsCertificateSource? tls, TimeSpan handshakeTimeout, ConnectionLimit? limit, IReadOnlyList<TlsCipherSuite>? cipherSuites)
    {
        _tls = tls;
        _limit = limit;
        _cipherSuites = tls is null ? null : TlsCipherSuites.Policy(cipherSuites);
        _handshakeTimeout = handshakeTimeout;
        _listener = listener;
        _processor = processor;
        _counters = counters;
        _idleTimeout = idleTimeout;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        _serverAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Number of connections open right now.</summary>
    public int ConnectionCount => _connections.Count;

    /// <summary>Whether connections are TLS (RFC 8656 §5: TLS-over-TCP).</summary>
    public bool IsTls => _tls is not null;

    private string ProtocolName => _tls is null ? "TCP" : "TLS";

    public static TcpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters,
        TimeSpan idleTimeout, ILogger logger, ConnectionLimit? limit = null) =>
        Bind(endPoint, processor, counters, idleTimeout, logger, tls: null, handshakeTimeout: TimeSpan.FromSeconds(10), limit);

    /// <summary>
    /// As above; with <paramref name="tls"/>, every connection starts with a TLS 1.2/1.3 handshake (which must end within
    /// <paramref name="handshakeTimeout"/>) and carries STUN/TURN inside it, with one of <paramref name="cipherSuites"/>
    /// (null: the platform's choice). With <paramref name="limit"/> (shared by listeners), a connection beyond it is
    /// closed as soon as it is accepted.
    /// </summary>
    public static TcpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters,
        TimeSpan idleTimeout, ILogger logger, TlsCertificateSource? tls, TimeSpan handshakeTimeout, ConnectionLimit? limit = null,
        IReadOnlyList<TlsCipherSuite>? cipherSuites = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(idleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(handshakeTimeout, TimeSpan.Zero);
        Socket socket = ListenerSocket.Bind(endPoint, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Listen(Backlog);
            return new TcpStunListener(socket, processor, counters, idleTimeout, logger, tls, handshakeTimeout, limit, cipherSuites);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Start()
    {
        TransportLog.Listening(_logger, ProtocolName, LocalEndPoint);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stopping.Dispose();
        TransportLog.Stopped(_logger, ProtocolName, LocalEndPoint);
    }

    private async Task AcceptLoopAsync()
    {
        CancellationToken stopping = _stopping.Token;
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                TransportLog.AcceptFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
                continue;
            }

            if (_limit is not null && !_limit.TryAcquire())
            {
                RefuseOverLimit(client);
                continue;
            }

            _counters.CountConnectionAccepted();
            client.NoDelay = true;
            Task connection = ServeWithinLimitAsync(client, stopping);
            _connections.TryAdd(connection, 0);
            _ = connection.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _),
                _connections, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Closes a connection beyond the limit at once, with a reset: no handshake, no buffers, no lingering.</summary>
    private void RefuseOverLimit(Socket client)
    {
        _counters.CountConnectionRefusedLimit();
        if (_limitLogThrottle.ShouldLog())
        {
            TransportLog.ConnectionLimitReached(_logger, _limit!.Max, LocalEndPoint);
        }

        try
        {
            client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // Already reset by the client; closing is all that is left.
        }

        client.Dispose();
    }

    private async Task ServeWithinLimitAsync(Socket socket, CancellationToken stopping)
    {
        try
        {
            await ServeConnectionAsync(socket, stopping).ConfigureAwait(false);
        }
        finally
        {
            _limit?.Release();
        }
    }

    private async Task ServeConnectionAsync(Socket socket, CancellationToken stopping)
    {
        await Task.Yield();
        EndPoint? remoteEndPoint = socket.RemoteEndPoint;
        Stream? stream = await OpenStreamAsync(socket, remoteEndPoint, stopping).ConfigureAwait(false);
        if (stream is null)
        {
            return;
        }

        var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        using var writerStop = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        byte[] response = ArrayPool<byte>.Shared.Rent(StunMessageProcessor.MaxResponseLength);
        string reason = "closed by peer";
        StreamClientConnection? connection = null;
        Task writer = Task.CompletedTask;
        byte[]? spliceLeftover = null;
        try
        {
            if (remoteEndPoint is not IPEndPoint remote)
            {
                return;
            }

            var tuple = new FiveTuple(TransportAddress.FromIPEndPoint(remote), _serverAddress,
                _tls is null ? TransportProtocol.Tcp : TransportProtocol.Tls);
            connection = new StreamClientConnection(tuple, _counters, _tls is null ? socket : null);
            writer = connection.RunWriterAsync(stream, writerStop.Token);
            idle.CancelAfter(_idleTimeout);
            while (true)
            {
                ReadResult result = await reader.ReadAsync(idle.Token).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                bool framingError = false;
                while (true)
                {
                    FrameStatus status = StunFraming.TryReadFrame(buffer, _processor.AllowLegacyChannelNumbers, out _, out int frameLength);
                    if (status == FrameStatus.Incomplete)
                    {
                        break;
                    }

                    if (status == FrameStatus.Invalid)
                    {
                        framingError = true;
                        break;
                    }

                    int answer = HandleFrame(buffer.Slice(0, frameLength), connection, response);
                    buffer = buffer.Slice(frameLength);
                    if (answer > 0)
                    {
                        connection.Send(response.AsSpan(0, answer));
                    }

                    if (connection.BoundPeer is not null)
                    {
                        // RFC 6062 §5.4: a data connection from here on; what follows the ConnectionBind is the peer's.
                        spliceLeftover = buffer.ToArray();
                        break;
                    }
                }

                if (spliceLeftover is not null)
                {
                    reader.AdvanceTo(buffer.End);
                    reason = await SpliceAsync(connection, writer, reader, spliceLeftover, stream, stopping).ConfigureAwait(false);
                    break;
                }

                reader.AdvanceTo(buffer.Start, buffer.End);
                if (framingError)
                {
                    // RFC 8489 §6.2.2 framing is lost: nothing later on this stream can be trusted.
                    _counters.CountClosedFramingError();
                    reason = "framing error";
                    break;
                }

                if (result.IsCompleted)
                {
                    break;
                }

                idle.CancelAfter(_idleTimeout);
            }
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            _counters.CountClosedIdle();
            reason = "idle timeout";
        }
        catch (OperationCanceledException)
        {
            reason = "server stopping";
        }
        catch (IOException ex)
        {
            reason = ex.Message;
        }
        catch (SocketException ex)
        {
            reason = ex.SocketErrorCode.ToString();
        }
        finally
        {
            if (connection is not null)
            {
                // Its allocation goes with it; then nothing is left to send to a client that is gone.
                _processor.ConnectionClosed(connection.Tuple);
                connection.Complete();
                await DrainAsync(writer, stopping).ConfigureAwait(false);
                await writerStop.CancelAsync().ConfigureAwait(false);
                await writer.ConfigureAwait(false);
            }

            ArrayPool<byte>.Shared.Return(response);
            await reader.CompleteAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            TransportLog.ConnectionClosed(_logger, remoteEndPoint, reason);
        }
    }

    /// <summary>
    /// RFC 6062 §5.4, §5.5: relays bytes as they are between a bound data connection and its peer connection, after the
    /// ConnectionBind success response has gone out, until either side closes or fails, which closes the other. Returns
    /// why it ended.
    /// </summary>
    private async Task<string> SpliceAsync(StreamClientConnection connection, Task writer, PipeReader reader, byte[] leftover,
        Stream stream, CancellationToken stopping)
    {
        TcpPeerConnection peer = connection.BoundPeer!;
        Allocation allocation = connection.BoundAllocation!;
        connection.Complete();
        await DrainAsync(writer, stopping).ConfigureAwait(false);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        Task up = ClientToPeerAsync(reader, leftover, peer.Socket, allocation, done.Token);
        Task down = PeerToClientAsync(peer.Socket, stream, allocation, done.Token);
        Task first = await Task.WhenAny(up, down).ConfigureAwait(false);
        peer.Dispose();
        if (first == down && stream is SslStream tls)
        {
            // The peer is gone: end TLS with close_notify rather than a bare close, which TLS clients report as an
            // error (unexpected EOF).
            try
            {
                await tls.ShutdownAsync().WaitAsync(WriterDrainTimeout, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or OperationCanceledException or ObjectDisposedException)
            {
                // The client is gone too, or not reading; closing is all that is left.
            }
        }

        await done.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side closing makes the other's pending read or write fail; that is how the splice ends.
        }

        return first == up ? "data connection closed by client" : "data connection closed by peer";
    }

    private async Task ClientToPeerAsync(PipeReader reader, byte[] leftover, Socket peer, Allocation allocation, CancellationToken cancellationToken)
    {
        if (leftover.Length > 0)
        {
            await peer.SendAsync(leftover, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            Count(leftover.Length, allocation, toPeer: true);
        }

        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            foreach (ReadOnlyMemory<byte> segment in buffer)
            {
                await peer.SendAsync(segment, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            Count((int)buffer.Length, allocation, toPeer: true);
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
            {
                return;
            }
        }
    }

    private async Task PeerToClientAsync(Socket peer, Stream stream, Allocation allocation, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(SpliceBufferSize);
        try
        {
            while (true)
            {
                int read = await peer.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                Count(read, allocation, toPeer: false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Count(int bytes, Allocation allocation, bool toPeer)
    {
        if (bytes > 0)
        {
            allocation.CountStreamRelayed(bytes, toPeer);
            _counters.CountTcpBytes(bytes, toPeer);
        }
    }

    /// <summary>
    /// The connection's byte stream: the socket itself, or TLS over it once the handshake is done; null (and the socket
    /// closed) when the handshake fails or takes longer than the handshake timeout.
    /// </summary>
    private async Task<Stream?> OpenStreamAsync(Socket socket, EndPoint? remote, CancellationToken stopping)
    {
        var network = new NetworkStream(socket, ownsSocket: true);
        if (_tls is null)
        {
            return network;
        }

        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        handshake.CancelAfter(_handshakeTimeout);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
            {
                ServerCertificateContext = _tls.Current,
                ApplicationProtocols = AlpnProtocols,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CipherSuitesPolicy = _cipherSuites,
                ClientCertificateRequired = false,
            }, handshake.Token).ConfigureAwait(false);
            return tls;
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or SocketException)
        {
            _counters.CountTlsHandshakeFailed();
            TransportLog.ConnectionClosed(_logger, remote, "TLS handshake failed: " + ex.Message);
            await tls.DisposeAsync().ConfigureAwait(false);
            return null;
        }
    }

    /// <summary>Lets the writer send what is still buffered (answers to the last requests), for a short while.</summary>
    private static async Task DrainAsync(Task writer, CancellationToken stopping)
    {
        try
        {
            await writer.WaitAsync(WriterDrainTimeout, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // A client that does not read, or the server stopping: the writer is cancelled next.
        }
    }

    private int HandleFrame(ReadOnlySequence<byte> frame, StreamClientConnection connection, byte[] response)
    {
        byte[]? rented = null;
        try
        {
            ReadOnlySpan<byte> bytes;
            if (frame.IsSingleSegment)
            {
                bytes = frame.FirstSpan;
            }
            else
            {
                rented = ArrayPool<byte>.Shared.Rent((int)frame.Length);
                frame.CopyTo(rented);
                bytes = rented.AsSpan(0, (int)frame.Length);
            }

            return _processor.Process(bytes, connection.Tuple, connection, response);
        }
#pragma warning disable CA1031 // A bug in one frame's handling must not take the listener down.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_errorThrottle.ShouldLog())
            {
                TransportLog.PacketHandlerFailed(_logger, LocalEndPoint, ex);
            }

            return 0;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}

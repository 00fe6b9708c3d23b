using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Turn.Relay;
using Turn.Stun;

namespace Turn.Transports.Dtls;

/// <summary>
/// TURN over DTLS 1.2 (RFC 8656 §5; DTLS 1.2 is RFC 6347) on a UDP socket of its own. One receive loop reads every
/// datagram: one from a client with an association goes to that association; one from anywhere else is answered
/// statelessly by the cookie exchange (RFC 6347 §4.2.1, a HelloVerifyRequest) unless it is a ClientHello carrying the
/// cookie this server gave that address, and only then is an association created (at most
/// <see cref="DtlsLimits.MaxAssociations"/> over all listeners). So a flood from spoofed addresses costs one HMAC per
/// datagram and no memory. Anything else is dropped without an answer.
/// </summary>
public sealed class DtlsStunListener : IAsyncDisposable
{
    /// <summary>DTLS record header (RFC 6347 §4.1): content type, version, epoch, sequence number, length.</summary>
    private const int RecordHeaderLength = 13;

    /// <summary>Content type of a handshake record; a new association can only start with one (its ClientHello).</summary>
    private const byte HandshakeContentType = 22;

    private static readonly TimeSpan ThreadStopTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private readonly StunMessageProcessor _processor;
    private readonly DtlsCounters _counters;
    private readonly DtlsLimits _limits;
    private readonly ILogger _logger;
    private readonly TlsCertificateSource _certificateSource;
    private readonly BcTlsCrypto _crypto = new(new SecureRandom());
    private readonly DtlsVerifier _verifier;
    private readonly ConcurrentDictionary<TransportAddress, DtlsAssociation> _associations = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly TransportAddress _serverAddress;
    private readonly DtlsAssociationContext _context;
    private readonly HelloVerifySender _helloVerify;
    private DtlsCertificate? _certificate;
    private Task _receiveLoop = Task.CompletedTask;

    private DtlsStunListener(Socket socket, StunMessageProcessor processor, DtlsCounters counters, DtlsLimits limits,
        TlsCertificateSource certificate, ILogger logger)
    {
        _socket = socket;
        _processor = processor;
        _counters = counters;
        _limits = limits;
        _certificateSource = certificate;
        _logger = logger;
        _verifier = new DtlsVerifier(_crypto);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _serverAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
        _context = new DtlsAssociationContext(processor, counters, limits, logger, LocalEndPoint,
            association => _associations.TryRemove(new KeyValuePair<TransportAddress, DtlsAssociation>(association.Tuple.Client, association)));
        _helloVerify = new HelloVerifySender(socket, counters);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Associations of this listener open right now (handshaking or established).</summary>
    public int AssociationCount => _associations.Count;

    public static DtlsStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, DtlsCounters counters, DtlsLimits limits,
        TlsCertificateSource certificate, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(limits.HandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(limits.IdleTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(limits.MaxAssociations, 1);
        Socket socket = ListenerSocket.Bind(endPoint, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            return new DtlsStunListener(socket, processor, counters, limits, certificate, logger);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void Start()
    {
        TransportLog.Listening(_logger, "DTLS", LocalEndPoint);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        DtlsAssociation[] open = [.. _associations.Values];
        foreach (DtlsAssociation association in open)
        {
            association.Shutdown();
        }

        foreach (DtlsAssociation association in open)
        {
            if (!association.Join(ThreadStopTimeout))
            {
                DtlsLog.ThreadDidNotStop(_logger, association.RemoteEndPoint);
            }
        }

        _stopping.Dispose();
        TransportLog.Stopped(_logger, "DTLS", LocalEndPoint);
    }

    private async Task ReceiveLoopAsync()
    {
        CancellationToken stopping = _stopping.Token;
        byte[] buffer = new byte[65536];
        var remote = new SocketAddress(_socket.AddressFamily);
        while (!stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, remote, stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex)
            {
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                // E.g. ICMP port unreachable from a client that went away: its problem, not the listener's.
                DtlsLog.ReceiveFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
                continue;
            }

            try
            {
                Dispatch(buffer, received, remote);
            }
#pragma warning disable CA1031 // No datagram may stop the loop that serves every other client.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _counters.CountDatagramDropped();
                if (_context.ErrorThrottle.ShouldLog())
                {
                    TransportLog.PacketHandlerFailed(_logger, LocalEndPoint, ex);
                }
            }
        }
    }

    private void Dispatch(byte[] buffer, int received, SocketAddress remote)
    {
        TransportAddress client = remote.ToTransportAddress();
        ReadOnlySpan<byte> datagram = buffer.AsSpan(0, received);
        if (_associations.TryGetValue(client, out DtlsAssociation? association))
        {
            // RFC 6347 §4.2.8: a new ClientHello (epoch 0, another random than the one that opened the association) on an
            // established association means the client started over, e.g. after a restart from the same port. It goes
            // through the cookie exchange; only once that proves the address does a new association replace the old one.
            ReadOnlySpan<byte> random = association.IsEstablished ? DtlsRecords.ClientHelloRandom(datagram) : [];
            if (random.IsEmpty || association.OpenedBy(random))
            {
                association.Deliver(datagram);
                return;
            }
        }
        else if (received < RecordHeaderLength || buffer[0] != HandshakeContentType || _counters.ActiveAssociations >= _limits.MaxAssociations)
        {
            // Without an association only a handshake record (a ClientHello) means anything; and with the cap reached
            // there is no point in a cookie exchange.
            _counters.CountDatagramDropped();
            return;
        }

        // RFC 6347 §4.2.1: the cookie is an HMAC (with a secret of this listener) over the client's address and port,
        // so it is checked, or a HelloVerifyRequest sent, without remembering anything about the client.
        byte[] clientId = new byte[16 + 2];
        int idLength = client.WriteAddressBytes(clientId);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(clientId.AsSpan(idLength), client.Port);
        _helloVerify.Target = remote;
        DtlsRequest? request = _verifier.VerifyRequest(clientId, buffer, 0, received, _helloVerify);
        if (request is null)
        {
            return;
        }

        if (!_counters.TryReserveAssociation(_limits.MaxAssociations))
        {
            return;
        }

        var tuple = new FiveTuple(client, _serverAddress, TransportProtocol.Dtls);
        var server = new TurnDtlsServer(_crypto, CurrentCertificate(), _limits.HandshakeTimeout);
        var created = new DtlsAssociation(_socket, CopyOf(remote), tuple, request, server, _context, DtlsRecords.ClientHelloRandom(datagram),
            association);
        if (association is null)
        {
            if (!_associations.TryAdd(client, created))
            {
                _counters.ReleaseAssociation();
                return;
            }
        }
        else
        {
            // Only this loop adds or replaces: the old association can only have removed itself meanwhile.
            _associations[client] = created;
            _counters.CountAssociationReplaced();
            association.Close();
        }

        created.Start();
    }

    /// <summary>The certificate for a new handshake: converted again only after <see cref="TlsCertificateSource"/> reloaded it.</summary>
    private DtlsCertificate CurrentCertificate()
    {
        var current = _certificateSource.Current;
        DtlsCertificate? converted = _certificate;
        if (converted is null || !ReferenceEquals(converted.Source, current))
        {
            converted = DtlsCertificate.From(current, _crypto);
            _certificate = converted;
        }

        return converted;
    }

    private static SocketAddress CopyOf(SocketAddress address)
    {
        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    /// <summary>Sends the HelloVerifyRequests of the cookie exchange from the listening socket, and counts them.</summary>
    private sealed class HelloVerifySender(Socket socket, DtlsCounters counters) : DatagramSender
    {
        public SocketAddress? Target { get; set; }

        public int GetSendLimit() => 1400;

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            counters.CountHelloVerifyRequestSent();
            try
            {
                socket.SendTo(buffer, SocketFlags.None, Target!);
            }
            catch (SocketException)
            {
                // Lost like any UDP datagram; the client sends its ClientHello again.
            }
        }
    }
}

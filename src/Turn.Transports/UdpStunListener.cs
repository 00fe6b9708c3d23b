using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;
using Turn.Transports.Native;

namespace Turn.Transports;

/// <summary>
/// One UDP socket and its receive loop. Datagrams land in a pinned buffer, the sender is read from a reused
/// <see cref="SocketAddress"/>, and the answer goes back from the same socket to the sender (RFC 8489 §6.3.1.2).
/// Nothing on this path allocates per datagram. With a receive batch (Linux), the loop is a thread of its own that
/// takes many datagrams per system call (<see cref="NativeUdpReceiver"/>); otherwise it is an async loop on the
/// .NET socket engine, which runs everywhere.
/// </summary>
public sealed class UdpStunListener : IAsyncDisposable, IClientTransport, INatDiscoveryEndpoint
{
    private const int ReceiveBufferLength = 65536;

    private readonly Socket _socket;
    private readonly StunMessageProcessor _processor;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TransportAddress _serverAddress;
    private readonly ErrorLogThrottle _errorThrottle = new();
    private readonly int _receiveBatch;
    private readonly bool _segmentation;
    private Task _loop = Task.CompletedTask;
    private NativeUdpReceiver? _batched;
    private NatDiscoveryPeers? _nat;

    private UdpStunListener(Socket socket, StunMessageProcessor processor, TransportCounters counters, ILogger logger, int receiveBatch,
        bool segmentation)
    {
        if (receiveBatch > 0 && !UdpBatching.IsSupported)
        {
            throw new PlatformNotSupportedException("Batched UDP needs 64-bit Linux.");
        }

        _socket = socket;
        _receiveBatch = receiveBatch;
        _segmentation = segmentation;
        _processor = processor;
        _counters = counters;
        _logger = logger;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _serverAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Binds the socket now, so address conflicts surface at start; call <see cref="Start"/> to serve.</summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger) =>
        Bind(endPoint, processor, counters, logger, reusePort: false);

    /// <summary>As above; with <paramref name="reusePort"/> several listeners can share the address (SO_REUSEPORT).</summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger, bool reusePort) =>
        Bind(endPoint, processor, counters, logger, reusePort, receiveBatch: 0);

    /// <summary>
    /// As above; a <paramref name="receiveBatch"/> above 0 serves the socket from a thread of its own with recvmmsg
    /// and sendmmsg, that many datagrams per call (needs <see cref="UdpBatching.IsSupported"/>); 0 uses the
    /// portable .NET socket loop.
    /// </summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger,
        bool reusePort, int receiveBatch) =>
        Bind(endPoint, processor, counters, logger, reusePort, receiveBatch, segmentation: false);

    /// <summary>
    /// As above; with <paramref name="segmentation"/> (batched mode only), runs of equal datagrams a client sends to
    /// one peer leave with UDP GSO.
    /// </summary>
    public static UdpStunListener Bind(IPEndPoint endPoint, StunMessageProcessor processor, TransportCounters counters, ILogger logger,
        bool reusePort, int receiveBatch, bool segmentation)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(receiveBatch);
        Socket socket = ListenerSocket.Bind(endPoint, SocketType.Dgram, ProtocolType.Udp, reusePort);
        try
        {
            return new UdpStunListener(socket, processor, counters, logger, receiveBatch, segmentation);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// RFC 5780 §4: makes this listener one of the four addresses of NAT behaviour discovery. <paramref name="other"/>
    /// is OTHER-ADDRESS (the other IP and the other port); the three listeners are those a response leaves from when
    /// the IP, the port or both are changed.
    /// </summary>
    public void EnableNatDiscovery(TransportAddress other, UdpStunListener changeIp, UdpStunListener changePort, UdpStunListener changeBoth)
    {
        ArgumentNullException.ThrowIfNull(changeIp);
        ArgumentNullException.ThrowIfNull(changePort);
        ArgumentNullException.ThrowIfNull(changeBoth);
        _nat = new NatDiscoveryPeers(other, changeIp, changePort, changeBoth);
    }

    public bool TryGetOtherAddress(out TransportAddress other)
    {
        other = _nat?.Other ?? default;
        return _nat is not null;
    }

    public TransportAddress OriginFor(bool changeIp, bool changePort) => ListenerFor(changeIp, changePort)._serverAddress;

    public void SendFrom(bool changeIp, bool changePort, ReadOnlySpan<byte> message, in TransportAddress destination)
    {
        UdpStunListener from = ListenerFor(changeIp, changePort);
        try
        {
            from._socket.SendTo(message, SocketFlags.None, destination.ToIPEndPoint());
            _counters.CountDatagramSent();
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            _counters.CountSendError();
        }
    }

    private UdpStunListener ListenerFor(bool changeIp, bool changePort) => _nat is not { } nat
        ? this
        : (changeIp, changePort) switch
        {
            (true, true) => nat.ChangeBoth,
            (true, false) => nat.ChangeIp,
            (false, true) => nat.ChangePort,
            _ => this,
        };

    /// <summary>
    /// Fails with <see cref="SocketError.AddressAlreadyInUse"/> when another program's UDP socket holds
    /// <paramref name="endPoint"/>; call before binding the first socket of a SO_REUSEPORT group.
    /// </summary>
    public static void EnsurePortFree(IPEndPoint endPoint) => ListenerSocket.EnsureUdpPortFree(endPoint);

    /// <summary>RFC 8656 §11.3, §12.5: data for an allocation's client leaves from this socket to the client's address.</summary>
    public IClientSender CreateSender(in FiveTuple tuple) => _receiveBatch > 0
        ? new NativeClientSender(_socket, tuple.Client, _counters)
        : new UdpClientSender(_socket, tuple.Client.ToSocketAddress(), _counters);

    public void Start()
    {
        TransportLog.Listening(_logger, "UDP", LocalEndPoint);
        if (_receiveBatch > 0)
        {
            _batched = new NativeUdpReceiver(_socket, _processor, this, _counters, _logger, _receiveBatch, _segmentation);
            _batched.Start();
            return;
        }

        _loop = Task.Run(ReceiveLoopAsync);
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        // The batched thread holds the descriptor while it runs: stop it before closing. Closing waits for every
        // holder, so a thread that does not stop is left with the socket rather than hanging the shutdown.
        if (_batched is not null && !_batched.Stop())
        {
            TransportLog.ThreadDidNotStop(_logger, LocalEndPoint);
        }
        else
        {
            _socket.Dispose();
        }

        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
        TransportLog.Stopped(_logger, "UDP", LocalEndPoint);
    }

    private async Task ReceiveLoopAsync()
    {
        CancellationToken stopping = _stopping.Token;
        byte[] receiveBuffer = GC.AllocateArray<byte>(ReceiveBufferLength, pinned: true);
        byte[] sendBuffer = GC.AllocateArray<byte>(StunMessageProcessor.MaxResponseLength, pinned: true);
        var remote = new SocketAddress(_socket.AddressFamily);

        while (!stopping.IsCancellationRequested)
        {
            int received;
            try
            {
                // No token: registering one on every wait allocates; closing the socket ends the wait instead.
                received = await _socket.ReceiveFromAsync(receiveBuffer, SocketFlags.None, remote).ConfigureAwait(false);
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
                if (stopping.IsCancellationRequested)
                {
                    break;
                }

                // E.g. ICMP port unreachable reported on the next receive (ECONNREFUSED): one peer's problem, not ours.
                _counters.CountReceiveError();
                TransportLog.ReceiveFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
                continue;
            }

            _counters.CountDatagramReceived();
            int answer = Handle(receiveBuffer, received, remote, sendBuffer);
            if (answer == 0)
            {
                continue;
            }

            try
            {
                await _socket.SendToAsync(sendBuffer.AsMemory(0, answer), SocketFlags.None, remote).ConfigureAwait(false);
                _counters.CountDatagramSent();
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
                _counters.CountSendError();
                TransportLog.SendFailed(_logger, LocalEndPoint, ex.SocketErrorCode);
            }
        }
    }

    private int Handle(byte[] receiveBuffer, int received, SocketAddress remote, byte[] sendBuffer)
    {
        var tuple = new FiveTuple(remote.ToTransportAddress(), _serverAddress, TransportProtocol.Udp);
        return ListenerDispatch.Process(_processor, receiveBuffer.AsSpan(0, received), tuple, this, sendBuffer, _errorThrottle, _logger, LocalEndPoint);
    }
}

/// <summary>The other addresses of an RFC 5780 listener: OTHER-ADDRESS and the listeners of the three "change" cases.</summary>
internal sealed record NatDiscoveryPeers(TransportAddress Other, UdpStunListener ChangeIp, UdpStunListener ChangePort, UdpStunListener ChangeBoth);

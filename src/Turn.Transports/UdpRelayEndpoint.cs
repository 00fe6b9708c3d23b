using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// The UDP socket behind one relayed transport address. It waits for data with a zero-length peek, so an idle
/// allocation owns no buffer; datagrams from peers then land after <see cref="PeerDataFraming.Headroom"/> bytes of
/// the thread's pinned receive buffer so the engine can frame them for the client in place; sends to peers reuse
/// one <see cref="SocketAddress"/>. Nothing here allocates per datagram.
/// </summary>
/// <remarks>
/// <see cref="SendToPeer"/> is called from the one loop that serves the allocation's client 5-tuple, so the send
/// address scratch needs no lock.
/// </remarks>
internal sealed class UdpRelayEndpoint : IRelayEndpoint
{
    /// <summary>Datagrams taken per wake-up before yielding the thread to others.</summary>
    private const int MaxDatagramsPerWakeUp = 64;

    private readonly Socket _socket;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<UdpRelayEndpoint>? _onDispose;
    private readonly SocketAddress _sendAddress;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ErrorLogThrottle _errorThrottle = new();
    private Task _loop = Task.CompletedTask;
    private int _disposed;
    private readonly DontFragmentSetting _dontFragment;

    public UdpRelayEndpoint(Socket socket, TransportCounters counters, ILogger logger, Action<UdpRelayEndpoint>? onDispose)
    {
        _socket = socket;
        _dontFragment = new DontFragmentSetting(socket);
        _counters = counters;
        _logger = logger;
        _onDispose = onDispose;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LocalAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
        _sendAddress = new SocketAddress(socket.AddressFamily);
    }

    public IPEndPoint LocalEndPoint { get; }

    public TransportAddress LocalAddress { get; }

    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
        // DF for this one datagram: only Send indications carrying DONT-FRAGMENT pay for the two extra calls.
        bool toggleDf = _dontFragment.NeedsToggle(dontFragment);
        if (!_sendAddress.TryWrite(peer))
        {
            _counters.CountSendError();
            return;
        }

        try
        {
            if (toggleDf)
            {
                _dontFragment.TurnOn();
            }

            SendPastIcmpErrors(payload);
            _counters.CountRelayedToPeer();
        }
        catch (SocketException)
        {
            _counters.CountSendError();
        }
        catch (ObjectDisposedException)
        {
            // The allocation went away while a datagram for it was in flight.
        }
        finally
        {
            if (toggleDf)
            {
                _dontFragment.TurnOff();
            }
        }
    }


    public void SetDontFragment(bool enabled) => _dontFragment.SetAlways(enabled);

    /// <summary>
    /// Sends to the peer, again while the send fails with an error an ICMP report about an earlier datagram may have
    /// left on the socket (as often as <see cref="Native.LinuxSockets.TriesPastIcmpError"/> says): each failed call clears it.
    /// </summary>
    private void SendPastIcmpErrors(ReadOnlySpan<byte> payload)
    {
        for (int tries = 0; ; tries++)
        {
            try
            {
                _socket.SendTo(payload, SocketFlags.None, _sendAddress);
                return;
            }
            catch (SocketException ex) when (tries < Native.LinuxSockets.TriesPastIcmpError(ex.NativeErrorCode))
            {
                // Maybe left by ICMP: try again.
            }
        }
    }

    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        ArgumentNullException.ThrowIfNull(handler);
        _loop = Task.Run(() => ReceiveLoopAsync(allocation, handler));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _socket.Dispose();
        _onDispose?.Invoke(this);
        _ = _loop.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Dispose(), _stopping,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task ReceiveLoopAsync(Allocation allocation, IPeerDataHandler handler)
    {
        CancellationToken stopping = _stopping.Token;
        var remote = new SocketAddress(_socket.AddressFamily);
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Wait until a datagram is queued without taking it: an idle allocation holds no receive buffer.
                // No token: registering one on every wait allocates; Dispose closes the socket, which ends the wait.
                await _socket.ReceiveFromAsync(Memory<byte>.Empty, SocketFlags.Peek, remote).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException)
            {
                // ICMP errors from earlier sends surface here (e.g. ECONNREFUSED); the socket is still good, and the
                // errors themselves wait on its error queue (RFC 8656 §11.5).
                _counters.CountReceiveError();
                DeliverIcmp(allocation, handler);
                continue;
            }

            DrainQueued(allocation, handler, remote);
        }
    }

    /// <summary>
    /// Takes what is queued into the thread's receive buffer, a bounded number of datagrams at a time so one busy
    /// allocation cannot hold a thread-pool thread for ever. There is no await in here, so the buffer is not shared.
    /// </summary>
    private void DrainQueued(Allocation allocation, IPeerDataHandler handler, SocketAddress remote)
    {
        byte[] buffer = RelayReceiveBuffer.ForCurrentThread;
        Span<byte> payloadArea = buffer.AsSpan(PeerDataFraming.Headroom, RelayReceiveBuffer.PayloadLength);
        int budget = MaxDatagramsPerWakeUp;
        do
        {
            int received;
            try
            {
                received = _socket.ReceiveFrom(payloadArea, SocketFlags.None, remote);
            }
            catch (SocketException)
            {
                _counters.CountReceiveError();
                DeliverIcmp(allocation, handler);
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            _counters.CountRelayedFromPeer();
            Deliver(allocation, handler, buffer, received, remote);
        }
        while (--budget > 0 && HasQueuedDatagram());
    }

    /// <summary>Hands the ICMP errors queued on the socket to the engine (Linux; elsewhere they are not reported).</summary>
    private void DeliverIcmp(Allocation allocation, IPeerDataHandler handler)
    {
        if (!Native.IcmpErrorQueue.IsSupported)
        {
            return;
        }

        SafeSocketHandle handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            Native.IcmpErrorQueue.Deliver((int)handle.DangerousGetHandle(), allocation, handler);
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private bool HasQueuedDatagram()
    {
        try
        {
            return _socket.Available > 0;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void Deliver(Allocation allocation, IPeerDataHandler handler, byte[] buffer, int received, SocketAddress remote)
    {
        try
        {
            TransportAddress peer = remote.ToTransportAddress();
            int length = handler.HandlePeerData(allocation, peer, buffer, received, out int start);
            if (length > 0)
            {
                allocation.Client.Send(buffer.AsSpan(start, length));
            }
        }
#pragma warning disable CA1031 // One bad datagram must not end the relay for this allocation.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (_errorThrottle.ShouldLog())
            {
                TransportLog.PacketHandlerFailed(_logger, LocalEndPoint, ex);
            }
        }
    }
}

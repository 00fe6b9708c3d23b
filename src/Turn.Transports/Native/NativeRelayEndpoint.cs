using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Native;

/// <summary>
/// The UDP socket behind one relayed transport address, served by a <see cref="NativeRelayPoller"/> thread: no
/// task, buffer or timer of its own. Datagrams from peers are read in batches into the thread's mapped slots, framed
/// for the client in place and sent to it in one sendmmsg; datagrams to peers go out with sendto straight from the
/// buffer they arrived in. Every call holds a reference on the socket handle, so a descriptor is never used after it
/// is closed (or reused by another allocation's socket).
/// </summary>
internal sealed unsafe class NativeRelayEndpoint : IRelayEndpoint
{
    private const int MaxAddressLength = 28;

    private readonly Socket _socket;
    private readonly SafeSocketHandle _handle;
    private readonly NativeRelayPoller _poller;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly Action<NativeRelayEndpoint>? _onDispose;
    private readonly ErrorLogThrottle _errorThrottle = new();
    private Allocation? _allocation;
    private IPeerDataHandler? _handler;
    private int _disposed;
    private readonly DontFragmentSetting _dontFragment;

    public NativeRelayEndpoint(Socket socket, NativeRelayPoller poller, TransportCounters counters, ILogger logger,
        Action<NativeRelayEndpoint>? onDispose)
    {
        _socket = socket;
        _dontFragment = new DontFragmentSetting(socket);
        _handle = socket.SafeHandle;
        _poller = poller;
        _counters = counters;
        _logger = logger;
        _onDispose = onDispose;
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        LocalAddress = TransportAddress.FromIPEndPoint(LocalEndPoint);
    }

    public IPEndPoint LocalEndPoint { get; }

    public TransportAddress LocalAddress { get; }

    /// <summary>The poller's key for this socket's registration (set by the poller).</summary>
    internal ulong PollerKey { get; set; }

    /// <summary>The poller thread that serves this socket (set by the poller).</summary>
    internal object? PollerWorker { get; set; }

    internal SafeSocketHandle Handle => _handle;

    public void SendToPeer(ReadOnlySpan<byte> payload, in TransportAddress peer, bool dontFragment = false)
    {
        Span<byte> address = stackalloc byte[MaxAddressLength];
        int addressLength = SocketAddressConversions.WriteRaw(address, peer, _socket.AddressFamily);
        if (addressLength == 0)
        {
            _counters.CountSendError();
            return;
        }

        // DF for this one datagram: only Send indications carrying DONT-FRAGMENT pay for the two extra calls.
        bool toggleDf = _dontFragment.NeedsToggle(dontFragment);
        if (!toggleDf && PeerSendQueue.Current is { } queue)
        {
            fixed (byte* data = payload)
            {
                if (queue.TryAdd(this, data, payload.Length, address[..addressLength]))
                {
                    return;
                }
            }
        }

        // Sent at once (DF, or bytes from outside the receive slots): what this thread queued for the socket goes
        // first, so the peer sees the client's order.
        PeerSendQueue.Release(this);

        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            if (toggleDf)
            {
                _dontFragment.TurnOn();
            }

            nint sent;
            fixed (byte* data = payload)
            fixed (byte* to = address)
            {
                sent = LinuxSockets.SendToPastIcmpErrors((int)_handle.DangerousGetHandle(), data, (nuint)payload.Length,
                    LinuxSockets.MsgDontWait | LinuxSockets.MsgNoSignal, to, (uint)addressLength);
            }

            if (sent >= 0)
            {
                _counters.CountRelayedToPeer();
            }
            else
            {
                _counters.CountSendError();
            }
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

            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public void SetDontFragment(bool enabled) => _dontFragment.SetAlways(enabled);

    public void Attach(Allocation allocation, IPeerDataHandler handler)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        ArgumentNullException.ThrowIfNull(handler);
        _allocation = allocation;
        _handler = handler;
        _poller.Register(this);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        NativeRelayPoller.Unregister(this);
        // Closing waits until no thread holds the handle; a datagram this thread queued for it must go first.
        PeerSendQueue.Release(this);
        _socket.Dispose();
        _onDispose?.Invoke(this);
    }

    /// <summary>
    /// Called on the poller thread when the socket is readable: takes up to <paramref name="budget"/> datagrams in
    /// batches, hands each to the engine and sends what it framed to the client.
    /// </summary>
    internal void Drain(ReceiveBatch batch, SendBatch toClient, int budget)
    {
        Allocation? allocation = _allocation;
        IPeerDataHandler? handler = _handler;
        if (allocation is null || handler is null)
        {
            return;
        }

        bool added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            int fd = (int)_handle.DangerousGetHandle();
            int taken = 0;
            while (taken < budget)
            {
                int received = batch.Receive(fd, LinuxSockets.MsgDontWait, out int errno);
                if (received <= 0)
                {
                    if (received == 0 || errno == LinuxSockets.ErrorWouldBlock)
                    {
                        // Woken with nothing to read: an ICMP error may be queued (epoll reports it until it is read).
                        if (taken == 0)
                        {
                            IcmpErrorQueue.Deliver(fd, allocation, handler);
                        }

                        break;
                    }

                    // An ICMP error from an earlier send (ECONNREFUSED...) is reported once; the socket is still good.
                    // The errors themselves wait on the error queue (RFC 8656 §11.5).
                    _counters.CountReceiveError();
                    taken += 1 + IcmpErrorQueue.Deliver(fd, allocation, handler);
                    continue;
                }

                _counters.CountRelayedFromPeer(received);
                Deliver(allocation, handler, batch, received, toClient);
                taken += received;
                if (received < batch.Capacity)
                {
                    break;
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Closed while the event was pending.
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    private void Deliver(Allocation allocation, IPeerDataHandler handler, ReceiveBatch batch, int received, SendBatch toClient)
    {
        IClientSender client = allocation.Client;
        var native = client as NativeClientSender;
        for (int i = 0; i < received; i++)
        {
            if (batch.IsTruncated(i))
            {
                _counters.CountReceiveError();
                continue;
            }

            try
            {
                Span<byte> slot = batch.Slot(i);
                int length = handler.HandlePeerData(allocation, batch.Sender(i), slot, batch.Length(i), out int start);
                if (length <= 0)
                {
                    continue;
                }

                if (native is null)
                {
                    client.Send(slot.Slice(start, length));
                }
                else
                {
                    toClient.Add(batch.SlotPointer(i) + start, length, native.Address);
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

        if (native is not null && toClient.Count > 0)
        {
            native.Flush(toClient);
        }
    }

}

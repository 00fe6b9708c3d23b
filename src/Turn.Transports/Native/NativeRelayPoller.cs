using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Turn.Relay.Allocations;

namespace Turn.Transports.Native;

/// <summary>
/// Serves the relay sockets of every allocation from a fixed set of threads, each waiting on its own epoll set
/// (level-triggered, so a socket with datagrams left after its budget is reported again on the next round). A
/// socket is registered on one thread for its whole life, so one allocation's peer datagrams are handled in order.
/// </summary>
public sealed unsafe class NativeRelayPoller : IDisposable
{
    /// <summary>How long a thread waits in epoll before it looks at the stop flag.</summary>
    private const int WaitMilliseconds = 200;

    private readonly Worker[] _workers;
    private int _next = -1;
    private int _disposed;

    /// <param name="threads">Threads, each with its own epoll set.</param>
    /// <param name="batchSize">Datagrams taken per recvmmsg call.</param>
    /// <param name="logger">For failures that are not a single datagram's.</param>
    public NativeRelayPoller(int threads, int batchSize, ILogger logger)
        : this(threads, batchSize, segmentation: false, logger)
    {
    }

    /// <param name="threads">Threads, each with its own epoll set.</param>
    /// <param name="batchSize">Datagrams taken per recvmmsg call.</param>
    /// <param name="segmentation">Send runs of equal datagrams to a client with UDP GSO (<see cref="SendBatch.Segmentation"/>).</param>
    /// <param name="logger">For failures that are not a single datagram's.</param>
    public NativeRelayPoller(int threads, int batchSize, bool segmentation, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (!LinuxSockets.IsSupported)
        {
            throw new PlatformNotSupportedException("Batched UDP needs 64-bit Linux.");
        }

        _workers = new Worker[threads];
        for (int i = 0; i < threads; i++)
        {
            _workers[i] = new Worker(i, batchSize, segmentation, logger);
        }
    }

    /// <summary>Relay sockets registered now, over all threads.</summary>
    public int Registered => _workers.Sum(w => w.Registered);

    internal void Register(NativeRelayEndpoint endpoint)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        uint index = (uint)Interlocked.Increment(ref _next) % (uint)_workers.Length;
        _workers[index].Add(endpoint);
    }

    internal static void Unregister(NativeRelayEndpoint endpoint) => (endpoint.PollerWorker as Worker)?.Remove(endpoint);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (Worker worker in _workers)
        {
            worker.Stop();
        }
    }

    private sealed class Worker
    {
        private const int MaxEvents = 128;

        /// <summary>Datagrams one socket may take per round before the thread moves on to the others.</summary>
        private const int BudgetPerSocket = 64;

        private readonly int _epoll;
        private readonly int _batchSize;
        private readonly bool _segmentation;
        private readonly ILogger _logger;
        private readonly Thread _thread;
        private readonly Lock _sync = new();
        private readonly Stack<int> _freeSlots = new();
        private readonly ErrorLogThrottle _errorThrottle = new();
        private NativeRelayEndpoint?[] _slots = new NativeRelayEndpoint?[64];
        private int _used;
        private uint _registrations;
        private volatile bool _stopping;
        private bool _closed;

        public Worker(int index, int batchSize, bool segmentation, ILogger logger)
        {
            _batchSize = batchSize;
            _segmentation = segmentation;
            _logger = logger;
            _epoll = LinuxSockets.EpollCreate(LinuxSockets.EpollCloseOnExec);
            if (_epoll < 0)
            {
                throw new InvalidOperationException($"epoll_create1 failed (errno {Marshal.GetLastPInvokeError()}).");
            }

            _thread = new Thread(Run) { IsBackground = true, Name = $"turn-relay-{index}" };
            _thread.UnsafeStart();
        }

        public int Registered
        {
            get
            {
                lock (_sync)
                {
                    return _used - _freeSlots.Count;
                }
            }
        }

        public void Add(NativeRelayEndpoint endpoint)
        {
            bool added = false;
            try
            {
                endpoint.Handle.DangerousAddRef(ref added);
                lock (_sync)
                {
                    ObjectDisposedException.ThrowIf(_closed, this);
                    int slot = TakeSlot();
                    ulong key = ((ulong)++_registrations << 32) | (uint)slot;
                    endpoint.PollerKey = key;
                    endpoint.PollerWorker = this;
                    _slots[slot] = endpoint;
                    if (Control(LinuxSockets.EpollAdd, (int)endpoint.Handle.DangerousGetHandle(), key) != 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        _slots[slot] = null;
                        _freeSlots.Push(slot);
                        endpoint.PollerWorker = null;
                        throw new InvalidOperationException($"epoll_ctl ADD failed (errno {errno}).");
                    }
                }
            }
            finally
            {
                if (added)
                {
                    endpoint.Handle.DangerousRelease();
                }
            }
        }

        public void Remove(NativeRelayEndpoint endpoint)
        {
            bool added = false;
            try
            {
                endpoint.Handle.DangerousAddRef(ref added);
                lock (_sync)
                {
                    int slot = (int)(uint)endpoint.PollerKey;
                    if (_closed || slot >= _slots.Length || !ReferenceEquals(_slots[slot], endpoint))
                    {
                        return;
                    }

                    _ = Control(LinuxSockets.EpollDelete, (int)endpoint.Handle.DangerousGetHandle(), 0);
                    _slots[slot] = null;
                    _freeSlots.Push(slot);
                    endpoint.PollerWorker = null;
                }
            }
            catch (ObjectDisposedException)
            {
                // Already closed: the kernel dropped it from the epoll set with its last descriptor.
            }
            finally
            {
                if (added)
                {
                    endpoint.Handle.DangerousRelease();
                }
            }
        }

        public void Stop()
        {
            _stopping = true;
            if (!_thread.Join(NativeUdpReceiver.StopTimeout))
            {
                // Closing the epoll set under a running thread could hand its number to someone else; leave it.
                TransportLog.RelayThreadDidNotStop(_logger, _thread.Name ?? "relay");
                return;
            }

            lock (_sync)
            {
                // Under the lock, so no Add or Remove uses the number after it is closed (and maybe reused).
                _closed = true;
                _ = LinuxSockets.Close(_epoll);
            }
        }

        private int TakeSlot()
        {
            if (_freeSlots.TryPop(out int slot))
            {
                return slot;
            }

            if (_used == _slots.Length)
            {
                var grown = new NativeRelayEndpoint?[_slots.Length * 2];
                Array.Copy(_slots, grown, _slots.Length);
                Volatile.Write(ref _slots, grown);
            }

            return _used++;
        }

        private int Control(int operation, int fd, ulong key)
        {
            byte* epollEvent = stackalloc byte[16];
            new Span<byte>(epollEvent, 16).Clear();
            *(uint*)epollEvent = LinuxSockets.EpollIn;
            Unsafe.WriteUnaligned(epollEvent + LinuxSockets.EpollDataOffset, key);
            return LinuxSockets.EpollControl(_epoll, operation, fd, epollEvent);
        }

        private void Run()
        {
            int eventSize = LinuxSockets.EpollEventSize;
            int dataOffset = LinuxSockets.EpollDataOffset;
            byte* events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * eventSize));
            using var batch = new ReceiveBatch(_batchSize, PeerDataFraming.Headroom, RelayReceiveBuffer.PayloadLength, PeerDataFraming.Tailroom);
            using var toClient = new SendBatch(_batchSize) { Segmentation = _segmentation };
            try
            {
                while (!_stopping)
                {
                    int ready = LinuxSockets.EpollWait(_epoll, events, MaxEvents, WaitMilliseconds);
                    if (ready < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == LinuxSockets.ErrorInterrupted)
                        {
                            continue;
                        }

                        TransportLog.RelayPollFailed(_logger, errno);
                        return;
                    }

                    for (int i = 0; i < ready; i++)
                    {
                        ulong key = Unsafe.ReadUnaligned<ulong>(events + (i * eventSize) + dataOffset);
                        NativeRelayEndpoint?[] slots = Volatile.Read(ref _slots);
                        uint slot = (uint)key;
                        NativeRelayEndpoint? endpoint = slot < (uint)slots.Length ? slots[slot] : null;
                        if (endpoint is not null && endpoint.PollerKey == key)
                        {
                            Serve(endpoint, batch, toClient);
                        }
                    }
                }
            }
            finally
            {
                NativeMemory.Free(events);
            }
        }

        private void Serve(NativeRelayEndpoint endpoint, ReceiveBatch batch, SendBatch toClient)
        {
            try
            {
                endpoint.Drain(batch, toClient, BudgetPerSocket);
            }
#pragma warning disable CA1031 // A fault with one socket must not stop the thread that serves the others.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                toClient.Clear();
                if (_errorThrottle.ShouldLog())
                {
                    TransportLog.PacketHandlerFailed(_logger, endpoint.LocalEndPoint, ex);
                }
            }
        }
    }
}

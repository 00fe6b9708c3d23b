using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Native;

/// <summary>
/// The receive loop of one listening UDP socket on its own thread: a blocking recvmmsg takes every datagram queued
/// (up to the batch size) in one call, the engine handles each in place (relaying ChannelData and Send indications
/// to peers straight from the slot it arrived in), and the answers leave in one sendmmsg. The socket stays in
/// blocking mode with a receive timeout, so an idle loop sleeps in the kernel and still sees the stop flag.
/// </summary>
internal sealed unsafe class NativeUdpReceiver
{
    private const int WaitMilliseconds = 200;
    private const int SolSocket = 1;
    private const int SoReceiveTimeout = 20;

    private readonly Socket _socket;
    private readonly StunMessageProcessor _processor;
    private readonly IClientTransport _transport;
    private readonly TransportAddress _serverAddress;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly int _batchSize;
    private readonly bool _segmentation;
    private readonly ErrorLogThrottle _errorThrottle = new();
    private readonly IPEndPoint _localEndPoint;
    private Thread? _thread;
    private volatile bool _stopping;

    public NativeUdpReceiver(Socket socket, StunMessageProcessor processor, IClientTransport transport, TransportCounters counters,
        ILogger logger, int batchSize, bool segmentation)
    {
        _segmentation = segmentation;
        _socket = socket;
        _processor = processor;
        _transport = transport;
        _counters = counters;
        _logger = logger;
        _batchSize = batchSize;
        _localEndPoint = (IPEndPoint)socket.LocalEndPoint!;
        _serverAddress = TransportAddress.FromIPEndPoint(_localEndPoint);
    }

    public void Start()
    {
        // struct timeval { long tv_sec; long tv_usec; } on 64-bit Linux.
        Span<byte> timeout = stackalloc byte[16];
        BitConverter.TryWriteBytes(timeout, 0L);
        BitConverter.TryWriteBytes(timeout[8..], WaitMilliseconds * 1000L);
        _socket.SetRawSocketOption(SolSocket, SoReceiveTimeout, timeout);
        _thread = new Thread(Run) { IsBackground = true, Name = $"turn-udp-{_localEndPoint.Port}" };
        _thread.UnsafeStart();
    }

    /// <summary>
    /// Stops the loop and waits for it (normally at most one receive timeout); false when it did not stop in time,
    /// in which case the thread still holds the socket and the caller must not expect it closed.
    /// </summary>
    public bool Stop()
    {
        _stopping = true;
        return _thread is null || _thread.Join(StopTimeout);
    }

    /// <summary>How long <see cref="Stop"/> waits for the thread.</summary>
    public static TimeSpan StopTimeout { get; } = TimeSpan.FromSeconds(5);

    private void Run()
    {
        SafeSocketHandle handle = _socket.SafeHandle;
        bool added = false;
        int responseStride = StunMessageProcessor.MaxResponseLength;
        byte* responses = LinuxSockets.MapAnonymous((nuint)(_batchSize * responseStride));
        var batch = new ReceiveBatch(_batchSize, 0, RelayReceiveBuffer.PayloadLength, 0);
        var replies = new SendBatch(_batchSize);
        var toPeers = new PeerSendQueue(batch, _counters, _segmentation);
        toPeers.Activate();
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            while (!_stopping)
            {
                int received = batch.Receive(fd, LinuxSockets.MsgWaitForOne, out int errno);
                if (received <= 0)
                {
                    if (received == 0 || errno is LinuxSockets.ErrorWouldBlock or LinuxSockets.ErrorInterrupted)
                    {
                        continue;
                    }

                    if (errno == LinuxSockets.ErrorBadDescriptor)
                    {
                        TransportLog.BatchReceiveStopped(_logger, _localEndPoint, errno);
                        return;
                    }

                    // E.g. an ICMP error for an earlier answer (ECONNREFUSED): one client's problem, not ours.
                    _counters.CountReceiveError();
                    continue;
                }

                _counters.CountDatagramsReceived(received);
                for (int i = 0; i < received; i++)
                {
                    if (batch.IsTruncated(i))
                    {
                        _counters.CountReceiveError();
                        continue;
                    }

                    byte* response = responses + (replies.Count * responseStride);
                    int answer = Handle(batch, i, new Span<byte>(response, responseStride));
                    if (answer > 0)
                    {
                        replies.Add(response, answer, batch.SenderPointer(i), batch.SenderLength(i));
                    }
                }

                toPeers.Flush();
                if (replies.Count > 0)
                {
                    int count = replies.Count;
                    int sent = replies.Flush(fd);
                    _counters.CountDatagramsSent(sent);
                    if (sent < count)
                    {
                        _counters.CountSendErrors(count - sent);
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Closed before the loop started.
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }

            toPeers.Dispose();
            replies.Dispose();
            batch.Dispose();
            LinuxSockets.Unmap(responses, (nuint)(_batchSize * responseStride));
        }
    }

    private int Handle(ReceiveBatch batch, int index, Span<byte> response)
    {
        var tuple = new FiveTuple(batch.Sender(index), _serverAddress, TransportProtocol.Udp);
        return ListenerDispatch.Process(_processor, batch.Payload(index), tuple, _transport, response, _errorThrottle, _logger, _localEndPoint);
    }
}

using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using Turn.Transports.Native;
using static Turn.Transports.Tests.Native.LoopbackUdp;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// Datagrams to peers that a listening socket's thread queues per relay socket while it handles one receive batch
/// (<see cref="PeerSendQueue"/>), as <see cref="NativeRelayEndpoint.SendToPeer"/> uses it. Every test runs the
/// listener's part on a thread of its own (the queue is per thread) and waits for it a bounded time.
/// </summary>
[Collection(NativeRelayThreadsCollection.Name)]
public sealed class PeerSendQueueTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private static readonly TransportAddress SomeClient = TransportAddress.FromIPAddress(IPAddress.Loopback, 40000);

    /// <summary>
    /// Regression: the thread that queued a datagram for a relay socket (a client's ChannelData) and then deletes that
    /// allocation in the same batch (its Refresh with LIFETIME 0, RFC 8656 §8.2) closes the socket itself. Closing waits
    /// for every reference to the handle, the queue's included, so without the flush before the close this thread
    /// waited for itself for ever. Dispose must return, and the queued datagram must have gone to the peer first.
    /// </summary>
    [Fact]
    public void Rfc8656_S8_2_deleting_an_allocation_on_the_thread_that_queued_data_for_it_does_not_deadlock()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        using var client = new RecordingClientSender();
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        endpoint.Attach(TestEngine.CreateAllocation(client, SomeClient), new RecordingPeerHandler());
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        using Socket peer = Bind(IPAddress.Loopback);
        byte[] payload = Pattern(120, 6);
        clientSocket.SendTo(payload, EndPointOf(listener));
        WaitQueued(listener);
        bool queued = false;

        BoundedThread.Run("the listener thread's Dispose of the relay socket", () =>
        {
            using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);
            Assert.Equal(1, batch.Receive(Fd(listener), LinuxSockets.MsgDontWait, out _));
            using var queue = new PeerSendQueue(batch, relay.Counters);
            queue.Activate();
            endpoint.SendToPeer(batch.Payload(0), AddressOf(peer));
            queued = relay.Counters.RelayedToPeer == 0 && !peer.Poll(TimeSpan.Zero, SelectMode.SelectRead);
            endpoint.Dispose();
        });

        Assert.True(queued, "the payload from the receive slot was sent at once instead of being queued");
        var (data, from) = ReceiveOne(peer);
        Assert.Equal(payload, data);
        Assert.Equal(endpoint.LocalEndPoint, from);
        Assert.Equal(1, relay.Counters.RelayedToPeer);
        Assert.Equal(0, relay.Ports.PortsInUse);
        Assert.Equal(0, relay.Poller.Registered);
    }

    /// <summary>RFC 8656 §12.6: a payload that does not lie in the thread's receive slots cannot wait; it is sent at once.</summary>
    [Fact]
    public void Rfc8656_S12_6_a_payload_outside_the_receive_slots_is_sent_at_once()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        using Socket peer = Bind(IPAddress.Loopback);
        clientSocket.SendTo(Pattern(10, 1), EndPointOf(listener));
        WaitQueued(listener);
        byte[] elsewhere = Pattern(64, 2);
        (byte[] Data, IPEndPoint From)? beforeFlush = null;

        BoundedThread.Run("the listener thread", () =>
        {
            using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);
            Assert.Equal(1, batch.Receive(Fd(listener), LinuxSockets.MsgDontWait, out _));
            using var queue = new PeerSendQueue(batch, relay.Counters);
            queue.Activate();
            endpoint.SendToPeer(elsewhere, AddressOf(peer));
            beforeFlush = Receive(peer, WaitLimit);
        }, TimeSpan.FromSeconds(10));

        Assert.NotNull(beforeFlush);
        Assert.Equal(elsewhere, beforeFlush.Value.Data);
        Assert.Equal(endpoint.LocalEndPoint, beforeFlush.Value.From);
        Assert.Equal(1, relay.Counters.RelayedToPeer);
    }

    /// <summary>RFC 8656 §12.6: a payload in the receive slots waits for the flush, then goes to the peer from the relayed address.</summary>
    [Fact]
    public void Rfc8656_S12_6_a_payload_inside_the_receive_slots_waits_for_the_flush()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        using Socket peer = Bind(IPAddress.Loopback);
        byte[] payload = Pattern(300, 3);
        clientSocket.SendTo(payload, EndPointOf(listener));
        WaitQueued(listener);
        bool arrivedBeforeFlush = true;
        (byte[] Data, IPEndPoint From)? afterFlush = null;

        BoundedThread.Run("the listener thread", () =>
        {
            using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);
            Assert.Equal(1, batch.Receive(Fd(listener), LinuxSockets.MsgDontWait, out _));
            using var queue = new PeerSendQueue(batch, relay.Counters);
            queue.Activate();
            Assert.Same(queue, PeerSendQueue.Current);
            endpoint.SendToPeer(batch.Payload(0), AddressOf(peer));
            arrivedBeforeFlush = peer.Poll(Quiet, SelectMode.SelectRead);
            queue.Flush();
            afterFlush = Receive(peer, WaitLimit);
            // The flush let go of the relay socket: closing it from here returns.
            endpoint.Dispose();
        }, TimeSpan.FromSeconds(10));

        Assert.False(arrivedBeforeFlush, "the datagram left before the flush");
        Assert.NotNull(afterFlush);
        Assert.Equal(payload, afterFlush.Value.Data);
        Assert.Equal(endpoint.LocalEndPoint, afterFlush.Value.From);
    }

    /// <summary>
    /// RFC 8656 §12.6: datagrams queued for one relay socket leave, in order, as soon as the thread queues one for another
    /// relay socket; each leaves from its own relayed address.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_6_queued_datagrams_for_one_relay_socket_go_out_before_those_for_the_next()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        NativeRelayEndpoint first = relay.NewEndpoint();
        NativeRelayEndpoint second = relay.NewEndpoint();
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        using Socket peer = Bind(IPAddress.Loopback);
        byte[][] payloads = [Pattern(10, 1), Pattern(20, 2), Pattern(30, 3)];
        foreach (byte[] payload in payloads)
        {
            clientSocket.SendTo(payload, EndPointOf(listener));
        }

        WaitQueued(listener);
        var beforeFlush = new List<(byte[] Data, IPEndPoint From)>();
        bool thirdWaited = false;

        BoundedThread.Run("the listener thread", () =>
        {
            using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);
            Assert.Equal(3, batch.Receive(Fd(listener), LinuxSockets.MsgDontWait, out _));
            using var queue = new PeerSendQueue(batch, relay.Counters);
            queue.Activate();
            first.SendToPeer(batch.Payload(0), AddressOf(peer));
            first.SendToPeer(batch.Payload(1), AddressOf(peer));
            second.SendToPeer(batch.Payload(2), AddressOf(peer));
            beforeFlush.Add(ReceiveOne(peer));
            beforeFlush.Add(ReceiveOne(peer));
            thirdWaited = !peer.Poll(Quiet, SelectMode.SelectRead);
            queue.Flush();
        }, TimeSpan.FromSeconds(15));

        Assert.Equal(payloads[0], beforeFlush[0].Data);
        Assert.Equal(payloads[1], beforeFlush[1].Data);
        Assert.All(beforeFlush, d => Assert.Equal(first.LocalEndPoint, d.From));
        Assert.True(thirdWaited, "the datagram for the second relay socket left before the flush");
        var (third, from) = ReceiveOne(peer);
        Assert.Equal(payloads[2], third);
        Assert.Equal(second.LocalEndPoint, from);
        Assert.Equal(3, relay.Counters.RelayedToPeer);
    }

    /// <summary>
    /// RFC 8656 §11.2, §12.6: a datagram that cannot be queued (a Send indication with DONT-FRAGMENT, sent with DF
    /// set on its own) does not overtake what the thread already queued for the same relay socket: the peer gets the
    /// client's order.
    /// </summary>
    [Fact]
    public void Rfc8656_S11_2_a_datagram_sent_at_once_does_not_overtake_those_queued_before_it()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        using Socket peer = Bind(IPAddress.Loopback);
        byte[][] payloads = [Pattern(40, 1), Pattern(50, 2), Pattern(60, 3)];
        foreach (byte[] payload in payloads)
        {
            clientSocket.SendTo(payload, EndPointOf(listener));
        }

        WaitQueued(listener);
        BoundedThread.Run("the listener thread", () =>
        {
            using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);
            Assert.Equal(3, batch.Receive(Fd(listener), LinuxSockets.MsgDontWait, out _));
            using var queue = new PeerSendQueue(batch, relay.Counters);
            queue.Activate();
            endpoint.SendToPeer(batch.Payload(0), AddressOf(peer));
            endpoint.SendToPeer(batch.Payload(1), AddressOf(peer), dontFragment: true);
            endpoint.SendToPeer(batch.Payload(2), AddressOf(peer));
            queue.Flush();
        }, TimeSpan.FromSeconds(10));

        foreach (byte[] payload in payloads)
        {
            Assert.Equal(payload, ReceiveOne(peer).Data);
        }
    }
}

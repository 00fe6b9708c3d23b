using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Stun;
using Turn.Transports.Native;
using static Turn.Transports.Tests.Native.LoopbackUdp;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// Relay sockets served by <see cref="NativeRelayPoller"/> threads (<see cref="NativeRelayEndpoint"/>), made by a
/// <see cref="UdpRelayPortAllocator"/> with a poller as the server does in batched mode, with real peers on loopback.
/// </summary>
[Collection(NativeRelayThreadsCollection.Name)]
public sealed class NativeRelayPollerTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    private static readonly TransportAddress SomeClient = TransportAddress.FromIPAddress(IPAddress.Loopback, 40000);

    /// <summary>
    /// RFC 8656 §11.3, §12.5: a datagram a peer sends to the relayed address reaches the allocation's peer-data
    /// handler with the peer's address, the payload at the headroom and room around it, and what the handler framed
    /// in place goes to the client through the allocation's client sender.
    /// </summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Rfc8656_S11_3_peer_datagrams_reach_the_handler_and_go_to_the_client_sender(string ip)
    {
        IPAddress address = IPAddress.Parse(ip);
        using var relay = new BatchedRelay(address);
        using var client = new RecordingClientSender();
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        Allocation allocation = TestEngine.CreateAllocation(client, SomeClient);
        var handler = new RecordingPeerHandler();
        endpoint.Attach(allocation, handler);
        Assert.Equal(1, relay.Poller.Registered);
        using Socket peer = Bind(address);

        byte[][] payloads = [Pattern(1, 1), Pattern(500, 2), Pattern(1400, 3)];
        foreach (byte[] payload in payloads)
        {
            peer.SendTo(payload, endpoint.LocalEndPoint);
        }

        foreach (byte[] payload in payloads)
        {
            byte[] message = client.Take();
            Assert.True(ChannelData.TryParse(message, out ushort channel, out ReadOnlySpan<byte> data));
            Assert.Equal(RecordingPeerHandler.Channel, channel);
            Assert.Equal(payload, data.ToArray());
        }

        Assert.Equal(payloads.Length, handler.Count);
        int i = 0;
        foreach (PeerDatagram seen in handler.Seen)
        {
            Assert.Same(allocation, seen.Allocation);
            Assert.Equal(AddressOf(peer), seen.Peer);
            Assert.Equal(payloads[i++], seen.Payload);
            Assert.True(seen.RoomAround, "the buffer has the headroom and tailroom the engine frames into");
        }

        Assert.Equal(payloads.Length, relay.Counters.RelayedFromPeer);
    }

    /// <summary>
    /// RFC 8656 §12.5: a burst from one peer is taken in recvmmsg batches and sent to the client with sendmmsg from
    /// the listening socket (<see cref="NativeClientSender"/>): every datagram arrives, in the order the peer sent it.
    /// </summary>
    [Fact]
    public void Rfc8656_S12_5_a_burst_of_200_datagrams_from_a_peer_reaches_the_client_complete_and_in_order()
    {
        const int Burst = 200;
        using var relay = new BatchedRelay(IPAddress.Loopback, threads: 2, batchSize: 16);
        using Socket listener = Bind(IPAddress.Loopback);
        using Socket clientSocket = Bind(IPAddress.Loopback);
        clientSocket.ReceiveBufferSize = 4 * 1024 * 1024;
        var sender = new NativeClientSender(listener, AddressOf(clientSocket), relay.Counters);
        NativeRelayEndpoint endpoint = relay.NewEndpoint();
        endpoint.Attach(TestEngine.CreateAllocation(sender, AddressOf(clientSocket)), new RecordingPeerHandler());
        using Socket peer = Bind(IPAddress.Loopback);

        byte[] datagram = Pattern(100, 7);
        for (int i = 0; i < Burst; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(datagram, i);
            peer.SendTo(datagram, endpoint.LocalEndPoint);
        }

        for (int i = 0; i < Burst; i++)
        {
            var (message, from) = ReceiveOne(clientSocket);
            Assert.Equal(EndPointOf(listener), from);
            Assert.True(ChannelData.TryParse(message, out ushort channel, out ReadOnlySpan<byte> data));
            Assert.Equal(RecordingPeerHandler.Channel, channel);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(data));
            Assert.Equal(datagram.AsSpan(4).ToArray(), data[4..].ToArray());
        }

        Assert.Null(Receive(clientSocket, Quiet));
        Assert.Equal(Burst, relay.Counters.RelayedFromPeer);
        Assert.Equal(Burst, relay.Counters.DatagramsSent);
        Assert.Equal(0, relay.Counters.SendErrors);
    }

    /// <summary>
    /// RFC 8656 §9, §11.3: with the engine as the handler, a peer datagram is dropped until the client holds a
    /// permission for the peer's IP, then delivered as a Data indication carrying XOR-PEER-ADDRESS and DATA.
    /// </summary>
    [Fact]
    public void Rfc8656_S11_3_engine_relays_peer_data_as_a_data_indication_only_after_a_permission()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        using var client = new RecordingClientSender();
        var engine = new TestEngine(relay.Ports);
        FiveTuple tuple = TestEngine.Tuple(SomeClient);
        TransportAddress relayed = engine.Allocate(tuple, client);
        Assert.IsType<NativeRelayEndpoint>(engine.AllocationOf(tuple).Relay);
        Assert.Equal(1, relay.Poller.Registered);
        using Socket peer = Bind(IPAddress.Loopback);

        peer.SendTo("before the permission"u8.ToArray(), relayed.ToIPEndPoint());
        Assert.True(SpinWait.SpinUntil(() => engine.Counters.Dropped(Turn.Relay.DropReason.NoPermission) == 1, WaitLimit),
            "the datagram without a permission was not seen and dropped");

        engine.CreatePermission(tuple, AddressOf(peer));
        byte[] payload = "after the permission"u8.ToArray();
        peer.SendTo(payload, relayed.ToIPEndPoint());

        byte[] message = client.Take();
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), reader.Header.Type);
        Assert.True(reader.TryGetAttribute(StunAttributeType.XorPeerAddress, out StunAttribute from));
        Assert.True(XorAddressValue.TryRead(from.Value, reader.Header.TransactionId, out TransportAddress fromAddress));
        Assert.Equal(AddressOf(peer), fromAddress);
        Assert.True(reader.TryGetAttribute(StunAttributeType.Data, out StunAttribute data));
        Assert.Equal(payload, data.Value.ToArray());
        Assert.Equal(0, client.Count);
    }

    /// <summary>RFC 8656 §12.5: with the engine as the handler, a peer on a bound channel reaches the client as ChannelData.</summary>
    [Fact]
    public void Rfc8656_S12_5_engine_relays_peer_data_on_a_bound_channel_as_channel_data()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback);
        using var client = new RecordingClientSender();
        var engine = new TestEngine(relay.Ports);
        FiveTuple tuple = TestEngine.Tuple(SomeClient);
        TransportAddress relayed = engine.Allocate(tuple, client);
        using Socket peer = Bind(IPAddress.Loopback);
        engine.ChannelBind(tuple, 0x4abc, AddressOf(peer));

        byte[] payload = Pattern(333, 4);
        peer.SendTo(payload, relayed.ToIPEndPoint());

        byte[] message = client.Take();
        Assert.True(ChannelData.TryParse(message, out ushort channel, out ReadOnlySpan<byte> data));
        Assert.Equal(0x4abc, channel);
        Assert.Equal(payload, data.ToArray());
        Assert.Equal(ChannelData.HeaderLength + payload.Length, message.Length); // no padding over UDP
    }

    [Fact]
    public void Registered_counts_attached_sockets_and_goes_back_to_zero_after_they_are_disposed()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback, threads: 3);
        using var client = new RecordingClientSender();
        Allocation allocation = TestEngine.CreateAllocation(client, SomeClient);
        var endpoints = new List<NativeRelayEndpoint>();
        for (int i = 0; i < 7; i++)
        {
            endpoints.Add(relay.NewEndpoint());
        }

        Assert.Equal(0, relay.Poller.Registered); // a socket is served from Attach on
        foreach (NativeRelayEndpoint endpoint in endpoints)
        {
            endpoint.Attach(allocation, new RecordingPeerHandler());
        }

        Assert.Equal(7, relay.Poller.Registered);
        BoundedThread.Run("closing 4 relay sockets", () => endpoints.Take(4).ToList().ForEach(e => e.Dispose()));
        Assert.Equal(3, relay.Poller.Registered);
        BoundedThread.Run("closing the other relay sockets", () => endpoints.ForEach(e => e.Dispose()));
        Assert.Equal(0, relay.Poller.Registered);
        Assert.Equal(0, relay.Ports.PortsInUse);

        // The freed slots are taken again, and serve the new sockets.
        NativeRelayEndpoint reused = relay.NewEndpoint();
        var handler = new RecordingPeerHandler();
        reused.Attach(allocation, handler);
        Assert.Equal(1, relay.Poller.Registered);
        using Socket peer = Bind(IPAddress.Loopback);
        peer.SendTo(Pattern(10, 1), reused.LocalEndPoint);
        Assert.True(handler.WaitFor(1, WaitLimit), "the socket in a reused slot is not served");
        Assert.Equal(Pattern(10, 1), client.Take()[ChannelData.HeaderLength..]);
    }

    /// <summary>
    /// Closing a relay socket while its peer floods it and a poller thread is draining it neither hangs nor throws,
    /// nothing is handed to the handler once Dispose has returned, and the threads go on serving other sockets.
    /// </summary>
    [Fact]
    public void Disposing_an_endpoint_while_its_peer_keeps_sending_neither_hangs_nor_throws()
    {
        using var relay = new BatchedRelay(IPAddress.Loopback, threads: 2, batchSize: 4);
        using var client = new RecordingClientSender();
        Allocation allocation = TestEngine.CreateAllocation(client, SomeClient);
        var endpoints = new List<NativeRelayEndpoint>();
        var handlers = new List<RecordingPeerHandler>();
        for (int i = 0; i < 4; i++)
        {
            NativeRelayEndpoint endpoint = relay.NewEndpoint();
            var handler = new RecordingPeerHandler();
            endpoint.Attach(allocation, handler);
            endpoints.Add(endpoint);
            handlers.Add(handler);
        }

        using Socket peer = Bind(IPAddress.Loopback);
        IPEndPoint[] targets = endpoints.Select(e => e.LocalEndPoint).ToArray();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var flood = new Thread(() =>
        {
            byte[] datagram = Pattern(200, 1);
            while (!stop.IsCancellationRequested)
            {
                foreach (IPEndPoint target in targets)
                {
                    try
                    {
                        peer.SendTo(datagram, target);
                    }
                    catch (SocketException)
                    {
                        // A full buffer or an ICMP error for a closed relay port: the flood goes on.
                    }
                }
            }
        })
        { IsBackground = true, Name = "peer flood" };
        flood.Start();
        try
        {
            Assert.All(handlers, h => Assert.True(h.WaitFor(20, WaitLimit), "the flood does not reach every socket"));
            for (int i = 0; i < endpoints.Count; i++)
            {
                NativeRelayEndpoint endpoint = endpoints[i];
                BoundedThread.Run($"Dispose of relay socket {i} under load", endpoint.Dispose);
                int handled = handlers[i].Count;
                Thread.Sleep(100);
                Assert.Equal(handled, handlers[i].Count);
            }

            Assert.Equal(0, relay.Poller.Registered);
        }
        finally
        {
            stop.Cancel();
            Assert.True(flood.Join(WaitLimit), "the flood thread did not stop");
        }

        NativeRelayEndpoint after = relay.NewEndpoint();
        var afterHandler = new RecordingPeerHandler();
        after.Attach(allocation, afterHandler);
        peer.SendTo(Pattern(10, 2), after.LocalEndPoint);
        Assert.True(afterHandler.WaitFor(1, WaitLimit), "the poller threads stopped serving after the disposals");
    }

    [Fact]
    public void Disposing_the_poller_stops_its_threads()
    {
        HashSet<string> before = RelayThreadIds();
        var relay = new BatchedRelay(IPAddress.Loopback, threads: 3);
        HashSet<string> ours = [];
        try
        {
            Assert.True(SpinWait.SpinUntil(() =>
            {
                ours = RelayThreadIds();
                ours.ExceptWith(before);
                return ours.Count == 3;
            }, WaitLimit), $"expected 3 relay threads, found {ours.Count}");

            using var client = new RecordingClientSender();
            Allocation allocation = TestEngine.CreateAllocation(client, SomeClient);
            NativeRelayEndpoint endpoint = relay.NewEndpoint();
            var handler = new RecordingPeerHandler();
            endpoint.Attach(allocation, handler);
            using Socket peer = Bind(IPAddress.Loopback);
            peer.SendTo(Pattern(10, 1), endpoint.LocalEndPoint);
            Assert.True(handler.WaitFor(1, WaitLimit));

            BoundedThread.Run("NativeRelayPoller.Dispose", relay.Poller.Dispose);

            Assert.True(SpinWait.SpinUntil(() => !RelayThreadIds().Overlaps(ours), WaitLimit), "relay threads still run after Dispose");
            peer.SendTo(Pattern(10, 2), endpoint.LocalEndPoint);
            Thread.Sleep(Quiet);
            Assert.Equal(1, handler.Count);
            NativeRelayEndpoint late = relay.NewEndpoint();
            Assert.Throws<ObjectDisposedException>(() => late.Attach(allocation, new RecordingPeerHandler()));
            BoundedThread.Run("Dispose of a relay socket after its poller", endpoint.Dispose);
        }
        finally
        {
            relay.Dispose();
        }
    }

    /// <summary>Native ids of this process's threads named like poller threads (turn-relay-N).</summary>
    private static HashSet<string> RelayThreadIds()
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (string task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(task, "comm")).StartsWith("turn-relay-", StringComparison.Ordinal))
                {
                    ids.Add(Path.GetFileName(task));
                }
            }
            catch (IOException)
            {
                // The thread ended while we looked.
            }
        }

        return ids;
    }
}

using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>
/// RFC 6062 TCP allocations end to end over real sockets on loopback: Allocate with REQUESTED-TRANSPORT TCP on a
/// control connection, Connect to a peer, connections peers open to the relayed address (ConnectionAttempt),
/// ConnectionBind on a new connection, then bytes relayed as they are both ways, and closing that ties the two
/// sides together (checklist section N).
/// </summary>
public sealed class TcpAllocationEndToEndTests(RelayServerFixture server) : IClassFixture<RelayServerFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private TurnTestClient Control() => new(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp: true);

    private async Task<(TurnTestClient Control, TransportAddress Relayed)> AllocateTcpAsync()
    {
        TurnTestClient control = Control();
        byte[] answer = await control.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(RequestedTransportValue.Tcp));
        Assert.Null(TurnTestClient.ErrorCode(answer));
        TransportAddress relayed = TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value;
        return (control, relayed);
    }

    private static TcpListener PeerListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static TransportAddress AddressOf(TcpListener listener) => TransportAddress.FromIPEndPoint((IPEndPoint)listener.LocalEndpoint);

    private static uint ConnectionId(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.True(reader.TryGetAttribute(StunAttributeType.ConnectionId, out StunAttribute id));
        Assert.True(UInt32Value.TryRead(id.Value, out uint value));
        return value;
    }

    /// <summary>RFC 6062 §5.2: Connect to the peer listening on <paramref name="listener"/>; its CONNECTION-ID and the accepted socket.</summary>
    private static async Task<(uint Id, Socket Peer)> ConnectAsync(TurnTestClient control, TcpListener listener)
    {
        Task<Socket> accepting = listener.AcceptSocketAsync();
        byte[] connected = await control.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(listener)));
        Assert.Null(TurnTestClient.ErrorCode(connected));
        return (ConnectionId(connected), await accepting.WaitAsync(Timeout));
    }

    /// <summary>
    /// A new connection to the server, bound with ConnectionBind to <paramref name="id"/>; returns it and the answer. With
    /// <paramref name="control"/>, the first ConnectionBind is signed with the control connection's nonce, as coturn's
    /// clients do (RFC 6062 §4.4); else it goes through a 401 challenge of its own.
    /// </summary>
    private async Task<(TurnTestClient Data, byte[] Answer)> BindAsync(uint id, TurnTestClient? control = null)
    {
        var data = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp: true);
        if (control is not null)
        {
            data.UseCredentialsOf(control);
            byte[] first = await data.RequestOnceAsync(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(id));
            return (data, first);
        }

        byte[] answer = await data.RequestAsync(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(id));
        return (data, answer);
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        byte[] buffer = new byte[count];
        using var cts = new CancellationTokenSource(Timeout);
        int read = 0;
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"closed after {read} of {count} bytes");
            read += n;
        }

        return buffer;
    }

    /// <summary>True when the other side closes (or resets) the connection within the timeout.</summary>
    private static async Task<bool> ClosedAsync(Socket socket)
    {
        byte[] buffer = new byte[64];
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            while (true)
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Checklist 136-139, RFC 6062 §5.1: the TCP Allocate rules, and a relayed address that accepts TCP connections.</summary>
    [Fact]
    public async Task Rfc6062_S5_1_tcp_allocate_rules()
    {
        using (var udp = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password))
        {
            byte[] overUdp = await udp.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(RequestedTransportValue.Tcp));
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(overUdp));
        }

        using (TurnTestClient control = Control())
        {
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(await control.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) =>
            {
                w.AddRequestedTransport(RequestedTransportValue.Tcp);
                w.AddEvenPort(false);
            })));
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(await control.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) =>
            {
                w.AddRequestedTransport(RequestedTransportValue.Tcp);
                w.AddAttribute(StunAttributeType.DontFragment, []);
            })));
            Assert.Equal(StunErrorCode.UnsupportedTransportProtocol, TurnTestClient.ErrorCode(await control.RequestAsync(StunMethod.Allocate,
                (ref StunMessageWriter w) => w.AddRequestedTransport(99))));
        }

        var (tcpControl, relayed) = await AllocateTcpAsync();
        using (tcpControl)
        {
            Assert.Equal(IPAddress.Loopback, relayed.ToIPAddress());
            Assert.InRange(relayed.Port, 49152, 65535);
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await probe.ConnectAsync(relayed.ToIPEndPoint());
            // RFC 6062 §5.3: no permission for the peer's IP, so the connection is closed at once.
            Assert.True(await ClosedAsync(probe));

            // A TCP allocation has no channels (data goes over data connections).
            byte[] channel = await tcpControl.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4000);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Loopback, 9)));
            });
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(channel));
        }
    }

    /// <summary>
    /// Checklist 142, 145, 146, 150, 151, RFC 6062 §5.2, §5.4, §5.5: Connect reaches the peer from the relayed address
    /// and answers with CONNECTION-ID; ConnectionBind on a new connection makes it the data connection: what the peer
    /// sent before the bind arrives, bytes go both ways as they are, a second Connect to the peer is 446, and the peer
    /// closing closes the data connection.
    /// </summary>
    [Fact]
    public async Task Rfc6062_S5_2_connect_bind_and_relay_both_ways()
    {
        using TcpListener listener = PeerListener();
        var (control, relayed) = await AllocateTcpAsync();
        using (control)
        {
            TransportAddress peerAddress = AddressOf(listener);
            Task<Socket> accepting = listener.AcceptSocketAsync();
            byte[] connected = await control.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
            Assert.Null(TurnTestClient.ErrorCode(connected));
            uint id = ConnectionId(connected);
            using Socket peer = await accepting.WaitAsync(Timeout);
            Assert.Equal(relayed.ToIPEndPoint(), peer.RemoteEndPoint);

            byte[] again = await control.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
            Assert.Equal(StunErrorCode.ConnectionAlreadyExists, TurnTestClient.ErrorCode(again));

            byte[] early = "sent before the bind"u8.ToArray();
            await peer.SendAsync(early);

            var (data, bound) = await BindAsync(id, control);
            using (data)
            {
                Assert.Null(TurnTestClient.ErrorCode(bound));
                Assert.Equal(early, await ReadExactlyAsync(data.Socket, early.Length));

                byte[] up = new byte[100_000];
                Random.Shared.NextBytes(up);
                Task sending = data.Socket.SendAsync(up);
                Assert.Equal(up, await ReadExactlyAsync(peer, up.Length));
                await sending;
                byte[] down = "from the peer"u8.ToArray();
                await peer.SendAsync(down);
                Assert.Equal(down, await ReadExactlyAsync(data.Socket, down.Length));
                // Counted once each write has completed, which may be just after the other side has read it.
                await Eventually.WaitForAsync(() => server.TransportCounters.TcpBytesToPeer >= up.Length
                    && server.TransportCounters.TcpBytesFromPeer >= early.Length + down.Length, "relayed TCP bytes not counted");
                Assert.True(server.Counters.TcpConnectionsBound >= 1);
                Assert.True(server.TransportCounters.TcpPeersConnected >= 1);

                // The same CONNECTION-ID cannot be bound twice.
                var (second, secondAnswer) = await BindAsync(id);
                second.Dispose();
                Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(secondAnswer));

                peer.Shutdown(SocketShutdown.Both);
                peer.Close();
                Assert.True(await ClosedAsync(data.Socket));
            }
        }
    }

    /// <summary>Checklist 141, 143, 144, 145, RFC 6062 §5.2: Connect errors: 437, 400, 403 (before any attempt), 447.</summary>
    [Fact]
    public async Task Rfc6062_S5_2_connect_errors()
    {
        using (TurnTestClient noAllocation = Control())
        {
            byte[] answer = await noAllocation.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Loopback, 9))));
            Assert.Equal(StunErrorCode.AllocationMismatch, TurnTestClient.ErrorCode(answer));
        }

        var (control, _) = await AllocateTcpAsync();
        using (control)
        {
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(await control.RequestAsync(StunMethod.Connect)));
            byte[] metadata = await control.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Parse("169.254.169.254"), 80))));
            Assert.Equal(StunErrorCode.Forbidden, TurnTestClient.ErrorCode(metadata));

            TransportAddress closed;
            using (TcpListener gone = PeerListener())
            {
                closed = AddressOf(gone);
            }

            byte[] refused = await control.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
                w.AddXorAddress(StunAttributeType.XorPeerAddress, closed));
            Assert.Equal(StunErrorCode.ConnectionTimeoutOrFailure, TurnTestClient.ErrorCode(refused));
        }

        // Connect on a UDP allocation (made over TCP) is not a TCP relay: 400.
        using TurnTestClient udpAllocation = Control();
        Assert.Null(TurnTestClient.ErrorCode(await udpAllocation.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
        Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(await udpAllocation.RequestAsync(StunMethod.Connect, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Loopback, 9))))));
    }

    /// <summary>
    /// Checklist 147, 150, RFC 6062 §5.3: a peer with a permission connecting to the relayed address is announced in a
    /// ConnectionAttempt indication (XOR-PEER-ADDRESS, CONNECTION-ID) on the control connection; once bound, bytes go
    /// both ways; closing the control connection ends the allocation and closes both sides (checklist 151).
    /// </summary>
    [Fact]
    public async Task Rfc6062_S5_3_incoming_peer_connection_is_announced_and_bound()
    {
        var (control, relayed) = await AllocateTcpAsync();
        using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        TransportAddress peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
        byte[] permission = await control.RequestAsync(StunMethod.CreatePermission, (ref StunMessageWriter w) =>
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
        Assert.Null(TurnTestClient.ErrorCode(permission));

        await peer.ConnectAsync(relayed.ToIPEndPoint());
        byte[]? attempt = await control.ReceiveAsync(Timeout);
        Assert.NotNull(attempt);
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(attempt, out StunMessageReader reader));
        Assert.Equal(new StunMessageType(StunMethod.ConnectionAttempt, StunClass.Indication), reader.Header.Type);
        Assert.Equal(peerAddress, TurnTestClient.XorAddress(attempt, StunAttributeType.XorPeerAddress));
        uint id = ConnectionId(attempt);

        var (data, bound) = await BindAsync(id, control);
        using (data)
        {
            Assert.Null(TurnTestClient.ErrorCode(bound));
            await data.Socket.SendAsync("to the peer"u8.ToArray());
            Assert.Equal("to the peer"u8.ToArray(), await ReadExactlyAsync(peer, 11));
            await peer.SendAsync("to the client"u8.ToArray());
            Assert.Equal("to the client"u8.ToArray(), await ReadExactlyAsync(data.Socket, 13));

            control.Dispose();
            Assert.True(await ClosedAsync(peer));
            Assert.True(await ClosedAsync(data.Socket));
        }
    }

    /// <summary>
    /// Checklist 140, RFC 6062 §4.2: Refresh is served on the control connection only. On a new connection, before its
    /// ConnectionBind, a Refresh finds no allocation (437); once the connection is bound, its bytes are the peer's, so a
    /// properly signed Refresh with LIFETIME 0 sent on it reaches the peer as it is, and the allocation lives on.
    /// </summary>
    [Fact]
    public async Task Rfc6062_S4_2_refresh_is_served_on_the_control_connection_only()
    {
        using TcpListener listener = PeerListener();
        var (control, _) = await AllocateTcpAsync();
        using (control)
        {
            var (id, connectedPeer) = await ConnectAsync(control, listener);
            using Socket peer = connectedPeer;

            using var data = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp: true);
            byte[] unbound = await data.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0));
            Assert.Equal(StunErrorCode.AllocationMismatch, TurnTestClient.ErrorCode(unbound));

            byte[] bound = await data.RequestAsync(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(id));
            Assert.Null(TurnTestClient.ErrorCode(bound));
            byte[] refresh = data.SignedRequest(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0));
            await data.SendRawAsync(refresh);
            Assert.Equal(refresh, await ReadExactlyAsync(peer, refresh.Length));

            byte[] alive = await control.RequestAsync(StunMethod.Refresh);
            Assert.Null(TurnTestClient.ErrorCode(alive));
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(alive, out StunMessageReader reader));
            Assert.True(reader.TryGetAttribute(StunAttributeType.Lifetime, out StunAttribute lifetime));
            Assert.True(UInt32Value.TryRead(lifetime.Value, out uint seconds));
            Assert.Equal(600u, seconds);

            byte[] down = "still relayed"u8.ToArray();
            await peer.SendAsync(down);
            Assert.Equal(down, await ReadExactlyAsync(data.Socket, down.Length));
        }
    }

    /// <summary>
    /// Checklist 152, RFC 6062 §5.3, §7: the server holds nothing of a peer connection before its ConnectionBind: it does
    /// not read the socket, so TCP flow control stops a peer that keeps sending once the kernel's buffers are full (here
    /// long before 64 MiB); after the bind every byte the peer wrote arrives, in order.
    /// </summary>
    [Fact]
    public async Task Rfc6062_S7_an_unbound_peer_connection_is_held_back_by_flow_control()
    {
        const int ChunkSize = 64 * 1024;
        const long Limit = 64L * 1024 * 1024;
        using TcpListener listener = PeerListener();
        var (control, _) = await AllocateTcpAsync();
        using (control)
        {
            var (id, connectedPeer) = await ConnectAsync(control, listener);
            using Socket peer = connectedPeer;
            peer.SendBufferSize = ChunkSize;

            // The peer writes until a write stalls: nobody reads the other end. A server that read and kept the bytes
            // would let it write all 64 MiB.
            long written = 0;
            Task? stalled = null;
            while (written < Limit)
            {
                Task write = peer.SendAsync(Pattern(written, ChunkSize).AsMemory(), SocketFlags.None).AsTask();
                if (await Task.WhenAny(write, Task.Delay(500)) != write)
                {
                    stalled = write;
                    break;
                }

                written += ChunkSize;
            }

            Assert.True(stalled is not null, $"the peer wrote {written} bytes before any ConnectionBind without being held back");

            var (data, bound) = await BindAsync(id, control);
            using (data)
            {
                Assert.Null(TurnTestClient.ErrorCode(bound));
                byte[] received = await ReadExactlyAsync(data.Socket, checked((int)(written + ChunkSize)));
                Assert.True(Pattern(0, received.Length).AsSpan().SequenceEqual(received), "the bytes arrive whole and in order");
                await stalled!.WaitAsync(Timeout);
            }
        }
    }

    /// <summary><paramref name="count"/> bytes of a pattern that tells where in the stream each byte belongs.</summary>
    private static byte[] Pattern(long offset, int count)
    {
        byte[] bytes = new byte[count];
        for (int i = 0; i < count; i++)
        {
            bytes[i] = (byte)((offset + i) % 251);
        }

        return bytes;
    }

    /// <summary>Checklist 148, RFC 6062 §5.4: ConnectionBind over UDP, without CONNECTION-ID or with an unknown one: 400.</summary>
    [Fact]
    public async Task Rfc6062_S5_4_connection_bind_errors()
    {
        using (var udp = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password))
        {
            byte[] answer = await udp.RequestAsync(StunMethod.ConnectionBind, (ref StunMessageWriter w) => w.AddConnectionId(1));
            Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(answer));
        }

        var (unknown, unknownAnswer) = await BindAsync(0x12345678);
        unknown.Dispose();
        Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(unknownAnswer));
        using TurnTestClient noId = Control();
        Assert.Equal(StunErrorCode.BadRequest, TurnTestClient.ErrorCode(await noId.RequestAsync(StunMethod.ConnectionBind)));
    }
}

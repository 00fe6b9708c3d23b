using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Server.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurementCollection
{
    public const string Name = "managed allocation measurement (runs alone)";
}

/// <summary>
/// The relay path allocates nothing on the managed heap per datagram: a real server relays tens of thousands of
/// ChannelData datagrams each way over loopback (RFC 8656 §12.4 client to peer, §12.5 peer to client) while the whole
/// process's allocated bytes are counted, against an idle window of the same length. Runs alone, so no other test's
/// allocations land in the count; the sends of the test itself allocate nothing either. Over TCP the client side is
/// one connection (RFC 8656 §12.5: ChannelData framed on the stream), which a thread of the test drains into one buffer.
/// </summary>
[Collection(AllocationMeasurementCollection.Name)]
public sealed class RelayAllocationFreeTests
{
    private const int Datagrams = 40_000;
    private const ushort Channel = 0x4000;

    /// <summary>Bytes per relayed datagram allowed above the idle rate: one object per datagram would be 24 or more.</summary>
    private const double AllowedBytesPerDatagram = 0.5;

    private sealed class Server(string mode) : RelayServerFixture
    {
        protected override IEnumerable<string> ExtraArguments => [.. base.ExtraArguments, "--udp-io", mode];
    }

    [Theory]
    [InlineData("batched", false)]
    [InlineData("sockets", false)]
    [InlineData("batched", true)]
    public async Task Rfc8656_S12_relaying_channel_data_both_ways_allocates_nothing_per_datagram(string mode, bool tcp)
    {
        var server = new Server(mode);
        await server.InitializeAsync();
        Thread? drain = null;
        try
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password, tcp);
            using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            byte[] allocate = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(allocate));
            TransportAddress relayed = TurnTestClient.XorAddress(allocate, StunAttributeType.XorRelayedAddress)!.Value;
            TransportAddress peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(Channel);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            });
            Assert.Null(TurnTestClient.ErrorCode(bind));

            if (tcp)
            {
                // What the server relays to the client must be read, or its bounded writer drops it (and the count).
                drain = new Thread(() => Drain(client.Socket)) { IsBackground = true, Name = "test TCP drain" };
                drain.Start();
            }

            byte[] channelData = new byte[ChannelData.HeaderLength + 100];
            ChannelData.WriteHeader(channelData, Channel, 100);
            byte[] fromPeer = new byte[100];
            SocketAddress relayAddress = relayed.ToIPEndPoint().Serialize();

            // Warm-up: every method on the path is compiled and tiered up before anything is counted.
            Relay(server, client.Socket, channelData, peer, fromPeer, relayAddress, Datagrams / 2);
            await Task.Delay(1000);

            long before = GC.GetTotalAllocatedBytes(precise: true);
            var watch = Stopwatch.StartNew();
            long relayedCount = Relay(server, client.Socket, channelData, peer, fromPeer, relayAddress, Datagrams);
            TimeSpan busy = watch.Elapsed;
            long busyBytes = GC.GetTotalAllocatedBytes(precise: true) - before;

            long idleBefore = GC.GetTotalAllocatedBytes(precise: true);
            await Task.Delay(busy);
            long idleBytes = GC.GetTotalAllocatedBytes(precise: true) - idleBefore;

            Assert.True(relayedCount >= Datagrams / 2, $"only {relayedCount} datagrams were relayed; the count would mean little");
            double perDatagram = (double)(busyBytes - idleBytes) / relayedCount;
            string name = tcp ? mode + " over TCP" : mode;
            TestContext.Current.TestOutputHelper?.WriteLine(
                $"{name}: {relayedCount} datagrams relayed, {busyBytes} bytes allocated by the process meanwhile, {idleBytes} bytes idle " +
                $"for as long: {perDatagram:F3} bytes per datagram");
            Assert.True(perDatagram < AllowedBytesPerDatagram,
                $"{name}: {busyBytes} bytes allocated while relaying {relayedCount} datagrams in {busy.TotalMilliseconds:F0} ms, " +
                $"{idleBytes} bytes in the same time idle: {perDatagram:F2} bytes per datagram");
        }
        finally
        {
            await server.DisposeAsync();
            drain?.Join(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>
    /// Reads the connection into one buffer until it closes. A blocking receive that waits allocates (an operation and
    /// an event, on a socket that has been used asynchronously), so the thread polls and reads without blocking.
    /// </summary>
    private static void Drain(Socket socket)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            socket.Blocking = false;
            while (true)
            {
                if (!socket.Poll(TimeSpan.FromSeconds(1), SelectMode.SelectRead))
                {
                    continue;
                }

                int read = socket.Receive(buffer, SocketFlags.None, out SocketError error);
                if (error is SocketError.WouldBlock)
                {
                    continue;
                }

                if (error is not SocketError.Success || read == 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The server stopped or the test ended.
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> datagrams each way (client ChannelData to the peer, peer datagrams to the client),
    /// waits until the server's counters have settled, and returns how many it relayed in both directions.
    /// </summary>
    private static long Relay(Server server, Socket client, byte[] channelData, Socket peer, byte[] fromPeer, SocketAddress relayAddress, int count)
    {
        long toPeerBefore = server.TransportCounters.RelayedToPeer;
        long toClientBefore = server.TransportCounters.DatagramsSent;
        for (int i = 0; i < count; i++)
        {
            client.Send(channelData);
            peer.SendTo(fromPeer, SocketFlags.None, relayAddress);
            if ((i & 63) == 63)
            {
                // The server shares the machine: let it keep up rather than measure drops.
                Thread.Yield();
            }
        }

        long last = -1;
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(100);
            long now = server.TransportCounters.RelayedToPeer + server.TransportCounters.DatagramsSent;
            if (now == last)
            {
                break;
            }

            last = now;
        }

        return server.TransportCounters.RelayedToPeer - toPeerBefore + server.TransportCounters.DatagramsSent - toClientBefore;
    }
}

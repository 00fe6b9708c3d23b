using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// Resource exhaustion against the real executable, whose memory (VmRSS) and open descriptors are read from /proc:
/// TCP and TLS connection floods past --max-connections, slow TLS handshakes, and clients that never read. Each flood
/// is refused or cut off where the options say, the server keeps answering, and when the flood ends the descriptors
/// come back to where they were and memory does not grow from one flood to the next.
/// </summary>
public sealed class ResourceExhaustionTests
{
    private const int MaxConnections = 100;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>A Binding over UDP from a fresh socket is answered.</summary>
    private static async Task AssertAnswersBindingAsync(RunningServer server)
    {
        using Socket udp = StunTestClient.UdpSocket(server.Turn);
        byte[]? answer = await StunTestClient.ExchangeUdpAsync(udp, StunTestClient.BindingRequest(TransactionId.NewRandom()));
        Assert.NotNull(answer);
        Assert.Equal(StunClass.SuccessResponse, StunTestClient.Decode(answer).Type.Class);
    }

    /// <summary>A TLS handshake (pinned to the certificate the server printed) and a Binding over it.</summary>
    private static async Task AssertTlsBindingAsync(RunningServer server)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.Tls);
        await using var stream = new SslStream(new NetworkStream(socket, ownsSocket: false), false, (_, certificate, _, _) => certificate is not null
            && string.Equals(Convert.ToHexString(certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256)),
                server.CertificateSha256, StringComparison.OrdinalIgnoreCase));
        using var limit = new CancellationTokenSource(Wait);
        await stream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, limit.Token);
        using var client = new TurnTestClient(socket, stream, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] answer = await client.RequestAsync(StunMethod.Binding);
        Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));
    }

    /// <summary>Whether the server has closed (or reset) <paramref name="socket"/> within <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedByServerAsync(Socket socket, TimeSpan within)
    {
        byte[] buffer = new byte[4096];
        using var limit = new CancellationTokenSource(within);
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
            }

            return true;
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

    private static async Task WaitForDescriptorsAsync(RunningServer server, int baseline)
    {
        await Eventually.WaitForAsync(() => server.OpenDescriptors <= baseline + 2,
            $"the server holds {server.OpenDescriptors} descriptors after the flood, {baseline} before", TimeSpan.FromSeconds(20));
    }

    /// <summary>
    /// Three floods of 300 TCP and 100 TLS connections (never a byte sent) against --max-connections 100: at no time does
    /// the server hold more than the limit (its descriptors show it), the connections past it are closed on arrival,
    /// UDP keeps being answered; after each flood the descriptors are back to the baseline, and memory after the third
    /// flood is within 16 MiB of memory after the first.
    /// </summary>
    [Fact]
    public async Task Connection_floods_past_the_limit_are_refused_and_leave_nothing_behind()
    {
        await using RunningServer server = await RunningServer.StartAsync("--max-connections", MaxConnections.ToString(CultureInfo.InvariantCulture),
            "--tls-handshake-timeout", "3");
        await AssertAnswersBindingAsync(server);
        await AssertTlsBindingAsync(server);
        await Task.Delay(500);
        int baseline = server.OpenDescriptors;
        var rssAfter = new List<long>();
        for (int round = 0; round < 3; round++)
        {
            var flood = new List<Socket>();
            try
            {
                int refusedAtConnect = 0;
                for (int i = 0; i < 400; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    flood.Add(socket);
                    try
                    {
                        await socket.ConnectAsync(i % 4 == 3 ? server.Tls : server.Turn);
                    }
                    catch (SocketException)
                    {
                        // Reset before the connect completed: refused all the same.
                        refusedAtConnect++;
                    }
                }

                await AssertAnswersBindingAsync(server);
                Assert.InRange(server.OpenDescriptors, baseline, baseline + MaxConnections + 8);
                int closed = 0;
                foreach (bool wasClosed in await Task.WhenAll(flood.Where(s => s.Connected).Select(s => ClosedByServerAsync(s, TimeSpan.FromSeconds(1)))))
                {
                    closed += wasClosed ? 1 : 0;
                }

                // Those past the limit are closed at once (the TLS ones within it after the handshake timeout, later).
                Assert.InRange(closed + refusedAtConnect, flood.Count - MaxConnections, flood.Count);
            }
            finally
            {
                foreach (Socket socket in flood)
                {
                    socket.Dispose();
                }
            }

            await WaitForDescriptorsAsync(server, baseline);
            await AssertTlsBindingAsync(server);
            rssAfter.Add(server.RssKiB);
        }

        Assert.True(rssAfter[2] - rssAfter[0] < 16 * 1024, $"RSS after each flood, KiB: {string.Join(", ", rssAfter)}");
    }

    /// <summary>
    /// Slow handshakes (a slowloris): 200 TLS connections send five bytes of a record header and stall. Meanwhile an honest
    /// client completes its handshake and is answered (handshakes do not wait on each other); each stalled connection
    /// is closed by the server at --tls-handshake-timeout, and the descriptors come back.
    /// </summary>
    [Fact]
    public async Task Stalled_tls_handshakes_are_cut_off_at_the_timeout_and_do_not_block_others()
    {
        await using RunningServer server = await RunningServer.StartAsync("--tls-handshake-timeout", "2");
        await AssertTlsBindingAsync(server);
        await Task.Delay(500);
        int baseline = server.OpenDescriptors;
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                stalled.Add(socket);
                await socket.ConnectAsync(server.Tls);
                // A handshake record (22), TLS 1.0 record version, 512 bytes announced; none follow.
                await socket.SendAsync(new byte[] { 22, 3, 1, 2, 0 });
            }

            var stopwatch = Stopwatch.StartNew();
            await AssertTlsBindingAsync(server);
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"an honest handshake waited {stopwatch.Elapsed} behind stalled ones");
            Assert.True(server.OpenDescriptors >= baseline + 150, "the stalled connections were not held open until their timeout");

            bool[] closed = await Task.WhenAll(stalled.Select(s => ClosedByServerAsync(s, TimeSpan.FromSeconds(10))));
            Assert.All(closed, Assert.True);
        }
        finally
        {
            foreach (Socket socket in stalled)
            {
                socket.Dispose();
            }
        }

        await WaitForDescriptorsAsync(server, baseline);
        await AssertTlsBindingAsync(server);
    }

    /// <summary>
    /// Clients that never read: 20 TCP clients each get 3,000 datagrams of 1,000 bytes from their peer (60 MB in all)
    /// and read none of it. The server holds a bounded amount per connection and drops the rest whole, so its memory grows
    /// by less than half of what was sent; afterwards each client reads intact ChannelData frames and is still answered.
    /// </summary>
    [Fact]
    public async Task Clients_that_never_read_cannot_make_the_server_buffer_without_bound()
    {
        const int Clients = 20;
        const int PerClient = 3_000;
        await using RunningServer server = await RunningServer.StartAsync();
        await AssertAnswersBindingAsync(server);
        var clients = new List<TurnTestClient>();
        using Socket peer = Peer();
        try
        {
            var relayed = new List<IPEndPoint>();
            for (int i = 0; i < Clients; i++)
            {
                var client = new TurnTestClient(server.Turn, RelayServerFixture.User, RelayServerFixture.Password, tcp: true);
                clients.Add(client);
                byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Null(TurnTestClient.ErrorCode(answer));
                relayed.Add(TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value.ToIPEndPoint());
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
                {
                    w.AddChannelNumber(0x4000);
                    w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(peer));
                })));
            }

            await Task.Delay(500);
            long before = server.RssKiB;
            byte[] payload = new byte[1000];
            for (int i = 0; i < payload.Length; i++)
            {
                payload[i] = (byte)(i * 13);
            }

            SocketAddress[] targets = [.. relayed.Select(r => r.Serialize())];
            for (int i = 0; i < PerClient; i++)
            {
                foreach (SocketAddress target in targets)
                {
                    peer.SendTo(payload, SocketFlags.None, target);
                }

                if ((i & 7) == 7)
                {
                    await Task.Delay(1);
                }
            }

            await Task.Delay(1000);
            long grown = server.RssKiB - before;
            long sentKiB = (long)Clients * PerClient * payload.Length / 1024;
            Assert.True(grown < sentKiB / 2, $"RSS grew {grown} KiB while {sentKiB} KiB were sent to clients that read nothing");

            foreach (TurnTestClient client in clients)
            {
                byte[]? frame = await client.ReceiveAsync(Wait);
                Assert.NotNull(frame);
                Assert.Equal(0x4000, BinaryPrimitives.ReadUInt16BigEndian(frame));
                Assert.Equal(payload, frame[4..1004]);
            }

            // Each connection still carries its requests (read past what was queued for it).
            foreach (TurnTestClient client in clients)
            {
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh)));
            }
        }
        finally
        {
            foreach (TurnTestClient client in clients)
            {
                client.Dispose();
            }
        }

        await AssertAnswersBindingAsync(server);
    }

    /// <summary>
    /// RFC 8656 §7.2 (item 10 of the Allocate checks): relay port exhaustion. With a range of five relay ports, Allocate
    /// requests get relayed addresses until the range is used up, then 508 (Insufficient Capacity); Binding is still
    /// answered; deleting one allocation frees its port and the next Allocate gets it.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S7_2_relay_port_exhaustion_gets_508_and_recovers()
    {
        const int Range = 5;
        int low = FreeUdpPortBlock(Range);
        await using RunningServer server = await RunningServer.StartAsync("--min-port", low.ToString(CultureInfo.InvariantCulture),
            "--max-port", (low + Range - 1).ToString(CultureInfo.InvariantCulture));
        var clients = new List<TurnTestClient>();
        try
        {
            int? refusal = null;
            while (refusal is null && clients.Count <= Range)
            {
                var client = new TurnTestClient(server.Turn, RelayServerFixture.User, RelayServerFixture.Password);
                clients.Add(client);
                byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                refusal = TurnTestClient.ErrorCode(answer);
                if (refusal is null)
                {
                    int port = TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value.Port;
                    Assert.InRange(port, low, low + Range - 1);
                }
            }

            Assert.Equal(StunErrorCode.InsufficientCapacity, refusal);
            Assert.Equal(Range + 1, clients.Count);
            await AssertAnswersBindingAsync(server);

            Assert.Null(TurnTestClient.ErrorCode(await clients[0].RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            byte[] again = await clients[^1].RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(again));
            Assert.InRange(TurnTestClient.XorAddress(again, StunAttributeType.XorRelayedAddress)!.Value.Port, low, low + Range - 1);
        }
        finally
        {
            foreach (TurnTestClient client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary><paramref name="count"/> consecutive UDP ports free on 127.0.0.1 now, below the kernel's ephemeral range.</summary>
    private static int FreeUdpPortBlock(int count)
    {
        for (int attempt = 0; attempt < 100; attempt++)
        {
            int low = Random.Shared.Next(10_000, 30_000);
            var probes = new List<Socket>();
            try
            {
                for (int port = low; port < low + count; port++)
                {
                    var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    probes.Add(probe);
                    probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
                }

                return low;
            }
            catch (SocketException)
            {
                // Taken: try another block.
            }
            finally
            {
                foreach (Socket probe in probes)
                {
                    probe.Dispose();
                }
            }
        }

        throw new InvalidOperationException("no free block of UDP ports");
    }
}

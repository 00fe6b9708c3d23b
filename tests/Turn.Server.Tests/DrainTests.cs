using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// Graceful drain, by POST /drain on the admin listener (in process) and by SIGTERM (the real executable): readiness
/// turns false, new Allocate requests get 508 (or 300 with ALTERNATE-SERVER, RFC 8489 §10), existing allocations keep
/// relaying and refreshing, and the server stops when the last allocation is gone or the drain timeout passes.
/// </summary>
public sealed class DrainTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    /// <summary>Sends SIGTERM, as Kubernetes, systemd and docker stop do.</summary>
    private static async Task SendSigtermAsync(Process process)
    {
        using Process kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    private static async Task<int?> AllocateErrorAsync(IPEndPoint server)
    {
        using var client = new TurnTestClient(server, RelayServerFixture.User, RelayServerFixture.Password);
        return TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17)));
    }

    /// <summary>An existing allocation still relays both ways (RFC 8656 §11) and refreshes (§8).</summary>
    private static Task AssertStillRelaysAsync(TurnTestClient client, TransportAddress relayed) => AssertRelaysAsync(client, relayed, Wait);

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, string url, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, new Uri(url));
        using HttpResponseMessage response = await http.SendAsync(request);
        return response.StatusCode;
    }

    [Fact]
    public async Task Post_drain_refuses_new_allocations_keeps_existing_ones_and_stops_when_the_last_is_gone()
    {
        var server = new ConfiguredRelayServer([]);
        await server.InitializeAsync();
        try
        {
            string admin = $"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}";
            using var http = new HttpClient();
            var (client, relayed) = await TurnTestClient.AllocateUdpAsync(server.V4);
            using (client)
            {
                Assert.Equal(HttpStatusCode.OK, await StatusAsync(http, admin + "/readyz"));
                Assert.Equal(HttpStatusCode.MethodNotAllowed, await StatusAsync(http, admin + "/drain"));
                Assert.Equal(HttpStatusCode.Accepted, await StatusAsync(http, admin + "/drain", HttpMethod.Post));
                Assert.Equal(HttpStatusCode.ServiceUnavailable, await StatusAsync(http, admin + "/readyz"));
                Assert.Contains("turn_ready 0", await http.GetStringAsync(new Uri(admin + "/metrics")), StringComparison.Ordinal);

                Assert.Equal(StunErrorCode.InsufficientCapacity, await AllocateErrorAsync(server.V4));
                Assert.Equal(1, server.Counters.DrainRejections);
                await AssertStillRelaysAsync(client, relayed);

                IHostApplicationLifetime lifetime = server.Services.GetRequiredService<IHostApplicationLifetime>();
                await Task.Delay(TimeSpan.FromMilliseconds(600));
                Assert.False(lifetime.ApplicationStopping.IsCancellationRequested, "the server stopped with an allocation left");
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
                await Eventually.WaitForAsync(() => lifetime.ApplicationStopping.IsCancellationRequested, "the drained server did not stop");
            }
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// RFC 8489 §10: with --alternate-server, a new Allocate during the drain gets 300 Try Alternate with
    /// ALTERNATE-SERVER (taken in turn), signed with the request's key so the client can trust it.
    /// </summary>
    [Fact]
    public async Task Rfc8489_S10_draining_with_alternate_servers_answers_300_with_alternate_server_in_turn()
    {
        var server = new ConfiguredRelayServer(["--alternate-server", "192.0.2.10:3478", "--alternate-server", "192.0.2.11"]);
        await server.InitializeAsync();
        try
        {
            server.Services.GetRequiredService<DrainCoordinator>().Begin("test");
            var seen = new List<TransportAddress>();
            for (int i = 0; i < 2; i++)
            {
                using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
                byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Equal(StunErrorCode.TryAlternate, TurnTestClient.ErrorCode(answer));
                Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
                Assert.True(reader.VerifyMessageIntegrity(client.Key), "the 300 is not signed with the request's key");
                Assert.True(reader.TryGetAttribute(StunAttributeType.AlternateServer, out StunAttribute alternate));
                Assert.True(AddressValue.TryRead(alternate.Value, out TransportAddress address));
                Assert.False(reader.TryGetAttribute(StunAttributeType.AlternateDomain, out _));
                seen.Add(address);
            }

            Assert.Equal(
                [TransportAddress.FromIPEndPoint(IPEndPoint.Parse("192.0.2.10:3478")), TransportAddress.FromIPEndPoint(IPEndPoint.Parse("192.0.2.11:3478"))],
                seen.OrderBy(a => a.ToString()));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// RFC 8656 §7.2 item 11, RFC 8489 §10 (checklist 71): with --redirect-all-allocations (coturn's alternate-server
    /// behaviour) every Allocate gets 300 Try Alternate with ALTERNATE-SERVER, without draining; Binding is still answered.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S7_2_item11_redirect_all_allocations_answers_300_without_draining()
    {
        var server = new ConfiguredRelayServer(["--alternate-server", "192.0.2.20:3479", "--redirect-all-allocations"]);
        await server.InitializeAsync();
        try
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Equal(StunErrorCode.TryAlternate, TurnTestClient.ErrorCode(answer));
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
            Assert.True(reader.VerifyMessageIntegrity(client.Key));
            Assert.True(reader.TryGetAttribute(StunAttributeType.AlternateServer, out StunAttribute alternate));
            Assert.True(AddressValue.TryRead(alternate.Value, out TransportAddress address));
            Assert.Equal(TransportAddress.FromIPEndPoint(IPEndPoint.Parse("192.0.2.20:3479")), address);
            Assert.Equal(0, server.Counters.AllocationsCreated);
            Assert.Equal(0, server.Counters.DrainRejections);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>
    /// The real executable on SIGTERM: the log says it drains, /readyz answers 503, a new Allocate gets 508, the existing
    /// allocation relays and refreshes, and the process exits with 0 once the client deletes it.
    /// </summary>
    [Fact]
    public async Task Sigterm_drains_the_executable_which_exits_when_the_last_allocation_is_gone()
    {
        await using RunningServer server = await RunningServer.StartAsync("--drain-timeout", "60");
        Process process = server.Process;
        IPEndPoint turn = server.Turn;
        string admin = server.Admin;
        var (client, relayed) = await TurnTestClient.AllocateUdpAsync(turn);
        using (client)
        {
            using var http = new HttpClient();
            await SendSigtermAsync(process);
            await Eventually.WaitForAsync(async () => await StatusAsync(http, admin + "/readyz") == HttpStatusCode.ServiceUnavailable,
                "the server did not turn unready on SIGTERM");
            Assert.Equal(StunErrorCode.InsufficientCapacity, await AllocateErrorAsync(turn));
            await AssertStillRelaysAsync(client, relayed);
            Assert.False(process.HasExited);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(0, process.ExitCode);
        }
    }

    /// <summary>--drain-timeout bounds the drain: the process exits with an allocation still there.</summary>
    [Fact]
    public async Task The_drain_timeout_stops_the_executable_with_allocations_left()
    {
        await using RunningServer server = await RunningServer.StartAsync("--drain-timeout", "1");
        Process process = server.Process;
        IPEndPoint turn = server.Turn;
        var (client, _) = await TurnTestClient.AllocateUdpAsync(turn);
        using (client)
        {
            var stopwatch = Stopwatch.StartNew();
            await SendSigtermAsync(process);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(0, process.ExitCode);
            Assert.InRange(stopwatch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(20));
        }
    }

    /// <summary>
    /// SIGTERM in the middle of load: 20 UDP and 5 TCP allocations relay ChannelData both ways at a steady rate while
    /// the signal arrives. Not one packet is lost in either direction, every allocation refreshes during the drain, a
    /// new Allocate gets 508, the process stays up while any allocation is left, and exits with 0 after the last one
    /// is deleted: the drain loses no allocation before its lifetime or the drain timeout.
    /// </summary>
    [Fact]
    public async Task Sigterm_under_load_loses_no_allocation_and_no_packet()
    {
        const int Packets = 300;
        await using RunningServer server = await RunningServer.StartAsync("--drain-timeout", "60");
        Process process = server.Process;
        IPEndPoint turn = server.Turn;
        var flows = new List<(TurnTestClient Client, Socket Peer, IPEndPoint Relayed)>();
        try
        {
            for (int i = 0; i < 25; i++)
            {
                var client = new TurnTestClient(turn, RelayServerFixture.User, RelayServerFixture.Password, tcp: i >= 20);
                byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                Assert.Null(TurnTestClient.ErrorCode(answer));
                Socket peer = Peer();
                flows.Add((client, peer, TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value.ToIPEndPoint()));
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
                {
                    w.AddChannelNumber(0x4000);
                    w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(peer));
                })));
            }

            Task<(int AtPeer, int AtClient)>[] load = [.. flows.Select(f => RelayLoadAsync(f.Client, f.Peer, f.Relayed, Packets))];
            await Task.Delay(1000);
            await SendSigtermAsync(process);
            (int AtPeer, int AtClient)[] delivered = await Task.WhenAll(load);
            for (int i = 0; i < delivered.Length; i++)
            {
                Assert.True(delivered[i] == (Packets, Packets), $"allocation {i} delivered {delivered[i]} of {Packets} each way across SIGTERM");
            }

            Assert.False(process.HasExited);
            Assert.Equal(StunErrorCode.InsufficientCapacity, await AllocateErrorAsync(turn));
            foreach (var (client, _, _) in flows)
            {
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh)));
            }

            foreach (var (client, _, _) in flows.Skip(1))
            {
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            }

            await Task.Delay(1000);
            Assert.False(process.HasExited, "the server stopped with an allocation left before the drain timeout");
            Assert.Null(TurnTestClient.ErrorCode(await flows[0].Client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await process.WaitForExitAsync(cts.Token);
            Assert.Equal(0, process.ExitCode);
        }
        finally
        {
            foreach (var (client, peer, _) in flows)
            {
                client.Dispose();
                peer.Dispose();
            }
        }
    }

    /// <summary>
    /// Sends <paramref name="count"/> numbered ChannelData messages (channel 0x4000) from the client and as many datagrams
    /// from the peer, one each way every 10 ms; returns how many arrived at the peer and at the client.
    /// </summary>
    private static async Task<(int AtPeer, int AtClient)> RelayLoadAsync(TurnTestClient client, Socket peer, IPEndPoint relayed, int count)
    {
        Task<int> atPeer = Task.Run(async () =>
        {
            int received = 0;
            while (received < count && await ReceiveFromAsync(peer, Wait) is not null)
            {
                received++;
            }

            return received;
        });
        Task<int> atClient = Task.Run(async () =>
        {
            int received = 0;
            while (received < count && await client.ReceiveAsync(Wait) is { } frame)
            {
                received += frame[0] == 0x40 ? 1 : 0;
            }

            return received;
        });
        // Four bytes of data: no padding on a stream either (RFC 8656 §12.5).
        byte[] frame = new byte[8];
        ChannelData.WriteHeader(frame, 0x4000, 4);
        for (int i = 0; i < count; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(4), i);
            await client.SendRawAsync(frame);
            await peer.SendToAsync(frame.AsMemory(4, 4), relayed);
            await Task.Delay(10);
        }

        return (await atPeer, await atClient);
    }
}

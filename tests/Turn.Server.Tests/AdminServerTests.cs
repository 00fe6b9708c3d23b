using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// The admin listener: /healthz, /readyz and Prometheus /metrics, with figures checked against traffic whose size is
/// known, bounded labels (no address or username in the exposition), and the audit log events of allocations.
/// </summary>
public sealed class AdminServerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static IPEndPoint AdminEndPoint(ServerFixture server) =>
        server.Services.GetRequiredService<AdminServer>().LocalEndPoint ?? throw new InvalidOperationException("no admin listener");

    private static async Task<(HttpStatusCode Status, string Body, string? ContentType)> GetAsync(ServerFixture server, string path)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://{AdminEndPoint(server)}") };
        using HttpResponseMessage response = await http.GetAsync(new Uri(path, UriKind.Relative));
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>The value of one sample in a Prometheus text exposition; null when absent.</summary>
    private static double? Sample(string exposition, string name, string labels = "")
    {
        string prefix = labels.Length == 0 ? name + " " : name + "{" + labels + "} ";
        foreach (string line in exposition.Split('\n'))
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static async Task<string> MetricsAsync(ServerFixture server)
    {
        var (status, body, contentType) = await GetAsync(server, "/metrics");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("text/plain", contentType);
        return body;
    }

    private static async Task<T> WithServerAsync<T>(string[] arguments, Func<ServerFixture, Task<T>> test)
    {
        var server = new ConfiguredRelayServer(arguments);
        await server.InitializeAsync();
        try
        {
            return await test(server);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Health_and_readiness_answer_on_the_admin_listener()
    {
        await WithServerAsync([], async server =>
        {
            Assert.True(IPAddress.IsLoopback(AdminEndPoint(server).Address), "the admin listener must default to loopback");
            Assert.Equal((HttpStatusCode.OK, "ok\n"), Pick(await GetAsync(server, "/healthz")));
            Assert.Equal((HttpStatusCode.OK, "ready\n"), Pick(await GetAsync(server, "/readyz")));
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(server, "/")).Status);
            Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(server, "/nothing-here")).Status);
            string metrics = await MetricsAsync(server);
            Assert.Equal(1, Sample(metrics, "turn_ready"));
            Assert.NotNull(Sample(metrics, "process_cpu_seconds_total"));
            Assert.NotNull(Sample(metrics, "dotnet_threadpool_threads"));
            return 0;
        });
    }

    /// <summary>--no-admin: nothing listens.</summary>
    [Fact]
    public async Task No_admin_turns_it_off()
    {
        await WithServerAsync(["--no-admin"], server =>
        {
            Assert.Null(server.Services.GetRequiredService<AdminServer>().LocalEndPoint);
            return Task.FromResult(0);
        });
    }

    /// <summary>
    /// Relayed packets and bytes, per transport and direction, count exactly what went through (RFC 8656 §11, §12
    /// traffic of known size), and stay counted once the allocation is gone; the audit log has one event for its
    /// creation and one for its end, with the traffic.
    /// </summary>
    [Fact]
    public async Task Relayed_traffic_is_counted_per_transport_and_direction_and_survives_the_allocation()
    {
        await WithServerAsync([], async server =>
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            byte[] allocated = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(allocated));
            TransportAddress relayed = TurnTestClient.XorAddress(allocated, StunAttributeType.XorRelayedAddress)!.Value;
            using Socket peer = Peer();
            TransportAddress peerAddress = AddressOf(peer);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4001);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            })));

            string before = await MetricsAsync(server);
            Assert.Equal(1, Sample(before, "turn_allocations", "transport=\"udp\""));
            Assert.Equal(1, Sample(before, "turn_permissions"));
            Assert.Equal(1, Sample(before, "turn_channels"));
            Assert.Equal(0, Sample(before, "turn_relayed_packets_total", "transport=\"udp\",direction=\"to_peer\""));

            for (int i = 0; i < 5; i++)
            {
                byte[] frame = new byte[ChannelData.HeaderLength + 100];
                ChannelData.WriteHeader(frame, 0x4001, 100);
                await client.SendRawAsync(frame);
                Assert.NotNull(await ReceiveFromAsync(peer, Wait));
            }

            for (int i = 0; i < 3; i++)
            {
                await peer.SendToAsync(new byte[40], relayed.ToIPEndPoint());
                Assert.NotNull(await client.ReceiveAsync(Wait));
            }

            string during = await MetricsAsync(server);
            Assert.Equal(5, Sample(during, "turn_relayed_packets_total", "transport=\"udp\",direction=\"to_peer\""));
            Assert.Equal(500, Sample(during, "turn_relayed_bytes_total", "transport=\"udp\",direction=\"to_peer\""));
            Assert.Equal(3, Sample(during, "turn_relayed_packets_total", "transport=\"udp\",direction=\"to_client\""));
            Assert.Equal(120, Sample(during, "turn_relayed_bytes_total", "transport=\"udp\",direction=\"to_client\""));
            Assert.Equal(0, Sample(during, "turn_relayed_packets_total", "transport=\"tcp\",direction=\"to_peer\""));

            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            string after = await MetricsAsync(server);
            Assert.Equal(0, Sample(after, "turn_allocations", "transport=\"udp\""));
            Assert.Equal(1, Sample(after, "turn_allocations_created_total"));
            Assert.Equal(1, Sample(after, "turn_allocations_ended_total", "reason=\"client_deleted\""));
            Assert.Equal(5, Sample(after, "turn_relayed_packets_total", "transport=\"udp\",direction=\"to_peer\""));
            Assert.Equal(120, Sample(after, "turn_relayed_bytes_total", "transport=\"udp\",direction=\"to_client\""));

            string client4 = client.LocalAddress.ToString();
            LogCapture.LogEvent created = Assert.Single(server.Logs.Find(300, client4));
            Assert.Contains("user alice", created.Message, StringComparison.Ordinal);
            Assert.Contains("relay " + relayed, created.Message, StringComparison.Ordinal);
            Assert.Contains("lifetime 600 s", created.Message, StringComparison.Ordinal);
            LogCapture.LogEvent ended = Assert.Single(server.Logs.Find(301, client4));
            Assert.Contains("(ClientDeleted)", ended.Message, StringComparison.Ordinal);
            Assert.Contains("to peers 5 packets 500 bytes, to client 3 packets 120 bytes", ended.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(RelayServerFixture.Password, string.Join('\n', server.Logs.Events.Select(e => e.Message)), StringComparison.Ordinal);
            return 0;
        });
    }

    /// <summary>
    /// Failures are counted by reason with bounded labels: a wrong password (RFC 8489 §9.2.4: 401), a peer the policy
    /// refuses (RFC 8656 §21.2.2: 403, category private), error responses by code; and no label anywhere holds an
    /// address, a port or a username.
    /// </summary>
    [Fact]
    public async Task Failures_are_counted_by_reason_and_no_label_names_an_address_or_a_user()
    {
        await WithServerAsync([], async server =>
        {
            using (var wrong = new TurnTestClient(server.V4, RelayServerFixture.User, "not-the-password"))
            {
                Assert.Equal(StunErrorCode.Unauthenticated,
                    TurnTestClient.ErrorCode(await wrong.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            }

            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            TransportAddress privatePeer = TransportAddress.FromIPEndPoint(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5000));
            Assert.Equal(StunErrorCode.Forbidden, TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, privatePeer))));

            string metrics = await MetricsAsync(server);
            Assert.Equal(1, Sample(metrics, "turn_auth_failures_total", "reason=\"integrity_mismatch\""));
            Assert.Equal(2, Sample(metrics, "turn_auth_challenges_total"));
            Assert.Equal(1, Sample(metrics, "turn_peer_refusals_total", "category=\"private\""));
            Assert.Equal(1, Sample(metrics, "turn_error_responses_total", "code=\"403\""));
            // Two challenges (one per client) and the wrong password's answer.
            Assert.Equal(3, Sample(metrics, "turn_error_responses_total", "code=\"401\""));
            Assert.Equal(0, Sample(metrics, "turn_error_responses_total", "code=\"0\""));

            foreach (string forbidden in new[] { "127.0.0.1", "10.1.2.3", "::1", RelayServerFixture.User, server.Port.ToString(CultureInfo.InvariantCulture) })
            {
                foreach (string line in metrics.Split('\n').Where(l => l.Contains('{', StringComparison.Ordinal)))
                {
                    string labels = line[line.IndexOf('{', StringComparison.Ordinal)..(line.IndexOf('}', StringComparison.Ordinal) + 1)];
                    Assert.DoesNotContain(forbidden, labels, StringComparison.Ordinal);
                }
            }

            return 0;
        });
    }

    /// <summary>The audit events can be silenced by category, as the README says.</summary>
    [Fact]
    public async Task Audit_events_follow_the_log_level_of_their_category()
    {
        await WithServerAsync(["--Logging:LogLevel:Turn.Server.AllocationAudit=Warning"], async server =>
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0))));
            Assert.Equal(1, server.Services.GetRequiredService<AllocationAudit>().EndedFor(Turn.Relay.Allocations.AllocationEndReason.ClientDeleted));
            Assert.DoesNotContain(server.Logs.Events, e => e.EventId is 300 or 301);
            return 0;
        });
    }

    private static (HttpStatusCode, string) Pick((HttpStatusCode Status, string Body, string? ContentType) response) => (response.Status, response.Body);
}

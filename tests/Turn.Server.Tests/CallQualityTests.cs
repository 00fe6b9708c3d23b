using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// Relay-side call quality from crafted traffic whose round trips are known: ICE checks (STUN Binding requests,
/// RFC 8445 §7.2, RFC 7675) relayed inside ChannelData one way and answered the other way are timed per leg into
/// turn_check_rtt_seconds; an answer to no request is not; --no-call-quality turns it off.
/// </summary>
public sealed class CallQualityTests
{
    private const ushort Channel = 0x4003;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static byte[] Binding(ushort type, TransactionId id)
    {
        byte[] message = new byte[StunConstants.HeaderLength];
        BinaryPrimitives.WriteUInt16BigEndian(message, type);
        BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(4), StunConstants.MagicCookie);
        id.WriteTo(message.AsSpan(8));
        return message;
    }

    private static byte[] Framed(byte[] payload)
    {
        byte[] frame = new byte[ChannelData.HeaderLength + payload.Length];
        ChannelData.WriteHeader(frame, Channel, payload.Length);
        payload.CopyTo(frame, ChannelData.HeaderLength);
        return frame;
    }

    private static double Sample(string exposition, string name, string labels)
    {
        string prefix = name + "{" + labels + "} ";
        string line = exposition.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    private static async Task<string> RunChecksAsync(string[] arguments)
    {
        var server = new ConfiguredRelayServer(arguments);
        await server.InitializeAsync();
        try
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            byte[] allocated = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            TransportAddress relayed = TurnTestClient.XorAddress(allocated, StunAttributeType.XorRelayedAddress)!.Value;
            using Socket peer = Peer();
            TransportAddress peerAddress = AddressOf(peer);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(Channel);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            })));

            // Peer leg: the client checks the peer, which answers 80 ms later (the response comes from the peer).
            var toPeer = TransactionId.NewRandom();
            await client.SendRawAsync(Framed(Binding(0x0001, toPeer)));
            Assert.NotNull(await ReceiveFromAsync(peer, Wait));
            await Task.Delay(80);
            await peer.SendToAsync(Binding(0x0101, toPeer), relayed.ToIPEndPoint());
            Assert.NotNull(await client.ReceiveAsync(Wait));

            // Client leg: the peer checks the client, which answers 40 ms later.
            var toClient = TransactionId.NewRandom();
            await peer.SendToAsync(Binding(0x0001, toClient), relayed.ToIPEndPoint());
            Assert.NotNull(await client.ReceiveAsync(Wait));
            await Task.Delay(40);
            await client.SendRawAsync(Framed(Binding(0x0101, toClient)));
            Assert.NotNull(await ReceiveFromAsync(peer, Wait));

            // An answer to nothing, and one answered twice: neither is timed again.
            await peer.SendToAsync(Binding(0x0101, TransactionId.NewRandom()), relayed.ToIPEndPoint());
            Assert.NotNull(await client.ReceiveAsync(Wait));
            await peer.SendToAsync(Binding(0x0101, toPeer), relayed.ToIPEndPoint());
            Assert.NotNull(await client.ReceiveAsync(Wait));

            using var http = new HttpClient();
            return await http.GetStringAsync(new Uri($"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}/metrics"));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Ice_checks_inside_relayed_data_are_timed_per_leg()
    {
        string metrics = await RunChecksAsync([]);
        Assert.Equal(1, Sample(metrics, "turn_check_rtt_seconds_count", "transport=\"udp\",leg=\"peer\""));
        Assert.InRange(Sample(metrics, "turn_check_rtt_seconds_sum", "transport=\"udp\",leg=\"peer\""), 0.075, 0.6);
        Assert.Equal(1, Sample(metrics, "turn_check_rtt_seconds_count", "transport=\"udp\",leg=\"client\""));
        Assert.InRange(Sample(metrics, "turn_check_rtt_seconds_sum", "transport=\"udp\",leg=\"client\""), 0.035, 0.6);
        // The 80 ms round trip lands in the 0.1 bucket, not below 0.075.
        Assert.Equal(0, Sample(metrics, "turn_check_rtt_seconds_bucket", "transport=\"udp\",leg=\"peer\",le=\"0.075\""));
    }

    /// <summary>
    /// RFC 3550 A.3, A.8 on the relay: an RTP stream (48 kHz timestamps, a packet every 10 ms) from which every tenth
    /// packet is left out, its sequence numbers wrapping past 65535, reports a loss of 10 % in every interval, and a small
    /// jitter once the clock rate is inferred.
    /// </summary>
    [Fact]
    public async Task Rtp_loss_and_jitter_of_a_relayed_stream_are_reported_per_interval()
    {
        var server = new ConfiguredRelayServer(["--call-quality-interval", "1"]);
        await server.InitializeAsync();
        try
        {
            using var client = new TurnTestClient(server.V4, RelayServerFixture.User, RelayServerFixture.Password);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            using Socket peer = Peer();
            TransportAddress peerAddress = AddressOf(peer);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(Channel);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            })));

            byte[] rtp = new byte[12 + 160];
            rtp[0] = 0x80;
            rtp[1] = 111;
            BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(8), 0x1234ABCD);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < 260; i++)
            {
                TimeSpan due = TimeSpan.FromMilliseconds(10 * i) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }

                if (i % 10 == 9)
                {
                    continue;
                }

                BinaryPrimitives.WriteUInt16BigEndian(rtp.AsSpan(2), (ushort)(65400 + i));
                BinaryPrimitives.WriteUInt32BigEndian(rtp.AsSpan(4), (uint)(480 * i));
                await client.SendRawAsync(Framed(rtp));
            }

            using var http = new HttpClient();
            string metrics = await http.GetStringAsync(new Uri($"http://{server.Services.GetRequiredService<AdminServer>().LocalEndPoint}/metrics"));
            double reports = Sample(metrics, "turn_rtp_loss_ratio_count", "transport=\"udp\",direction=\"to_peer\"");
            Assert.InRange(reports, 1, 3);
            Assert.InRange(Sample(metrics, "turn_rtp_loss_ratio_sum", "transport=\"udp\",direction=\"to_peer\"") / reports, 0.08, 0.12);
            Assert.Equal(0, Sample(metrics, "turn_rtp_loss_ratio_count", "transport=\"udp\",direction=\"to_client\""));
            double jitterReports = Sample(metrics, "turn_rtp_jitter_seconds_count", "transport=\"udp\",direction=\"to_peer\"");
            Assert.InRange(jitterReports, 1, 3);
            Assert.InRange(Sample(metrics, "turn_rtp_jitter_seconds_sum", "transport=\"udp\",direction=\"to_peer\"") / jitterReports, 0, 0.02);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task No_call_quality_turns_it_off()
    {
        string metrics = await RunChecksAsync(["--no-call-quality"]);
        Assert.Equal(0, Sample(metrics, "turn_check_rtt_seconds_count", "transport=\"udp\",leg=\"peer\""));
        Assert.Equal(0, Sample(metrics, "turn_check_rtt_seconds_count", "transport=\"udp\",leg=\"client\""));
    }
}

using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// Relay socket errors: an ICMP port-unreachable storm (RFC 8656 §11.5). On loopback the kernel answers every datagram
/// to a closed port with an ICMP error, unthrottled, so a client relaying to 16 closed ports draws thousands of them
/// onto its relay socket. The relay socket keeps working through the storm, the errors reach the client as Data
/// indications with ICMP, and nothing else is disturbed. Run with each way of serving relay sockets.
/// </summary>
public abstract class IcmpStormTestsBase(ServerFixture server)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// 5,000 Send indications to closed ports, with 1,000 ChannelData messages to a live peer among them: the live peer
    /// gets all 1,000, the client gets the ICMP errors as Data indications (ICMP attribute, no DATA), and afterwards the
    /// allocation still relays both ways, another client's allocation too, and Binding is answered.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S11_5_an_icmp_storm_on_a_relay_socket_disturbs_nothing()
    {
        const int ToClosed = 5_000;
        const int ToLive = 1_000;
        var (stormy, relayed) = await TurnTestClient.AllocateUdpAsync(server.V4);
        var (other, otherRelayed) = await TurnTestClient.AllocateUdpAsync(server.V4);
        using (stormy)
        using (other)
        {
            using Socket live = Peer();
            TransportAddress[] closed = [.. Enumerable.Range(0, 16).Select(_ => ClosedPort())];
            // One permission covers every port of the address (RFC 8656 §9).
            Assert.Null(TurnTestClient.ErrorCode(await stormy.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(live)))));
            Assert.Null(TurnTestClient.ErrorCode(await stormy.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4100);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, AddressOf(live));
            })));

            long icmpBefore = server.Counters.IcmpRelayed;
            Task<int> atLive = CountAsync(live, ToLive);
            Task<int> icmpAtClient = CountIcmpIndicationsAsync(stormy, ToClosed);
            byte[] channelData = new byte[8];
            ChannelData.WriteHeader(channelData, 0x4100, 4);
            for (int i = 0; i < ToClosed; i++)
            {
                TransportAddress target = closed[i % closed.Length];
                await stormy.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
                {
                    w.AddXorAddress(StunAttributeType.XorPeerAddress, target);
                    w.AddAttribute(StunAttributeType.Data, [1, 2, 3, 4]);
                });
                if (i % 5 == 0)
                {
                    await stormy.SendRawAsync(channelData);
                }

                if (i % 20 == 19)
                {
                    // Paced (about 2,000 a second) so the listener keeps up even on the portable socket loops of a
                    // small, busy machine: what is measured is the relay socket under the storm, not the listener.
                    await Task.Delay(10);
                }
            }

            int delivered = await atLive;
            Assert.True(delivered == ToLive, $"{delivered} of {ToLive} reached the live peer; server: received {server.TransportCounters.DatagramsReceived}, relayed to peers {server.TransportCounters.RelayedToPeer}, send errors {server.TransportCounters.SendErrors}, receive errors {server.TransportCounters.ReceiveErrors}, dropped {server.Counters.TotalDropped}");
            int icmp = await icmpAtClient;
            Assert.True(icmp > ToClosed / 2, $"only {icmp} of {ToClosed} ICMP errors reached the client");
            Assert.True(server.Counters.IcmpRelayed - icmpBefore >= icmp);

            await AssertRelaysAsync(stormy, relayed, Wait);
            await AssertRelaysAsync(other, otherRelayed, Wait);
            byte[] binding = await other.RequestAsync(StunMethod.Binding);
            Assert.Equal(other.LocalAddress, TurnTestClient.XorAddress(binding, StunAttributeType.XorMappedAddress));
        }
    }

    private static async Task<int> CountAsync(Socket peer, int expected)
    {
        int received = 0;
        while (received < expected && await ReceiveFromAsync(peer, Wait) is not null)
        {
            received++;
        }

        return received;
    }

    /// <summary>Counts Data indications that carry ICMP and no DATA, until <paramref name="most"/> or a quiet second.</summary>
    private static async Task<int> CountIcmpIndicationsAsync(TurnTestClient client, int most)
    {
        int count = 0;
        while (count < most && await client.ReceiveAsync(TimeSpan.FromSeconds(1)) is { } message)
        {
            if (StunMessageReader.TryParse(message, out StunMessageReader reader) == StunParseStatus.Success
                && reader.Header.Type == new StunMessageType(StunMethod.Data, StunClass.Indication))
            {
                Assert.True(reader.TryGetAttribute(StunAttributeType.Icmp, out _));
                Assert.False(reader.TryGetAttribute(StunAttributeType.Data, out _));
                count++;
            }
        }

        return count;
    }
}

/// <summary>The ICMP storm with relay sockets served by the batched Linux path (the default there).</summary>
public sealed class IcmpStormTests(RelayServerFixture server) : IcmpStormTestsBase(server), IClassFixture<RelayServerFixture>;

/// <summary>The ICMP storm with relay sockets served by the portable .NET socket loops (--udp-io sockets).</summary>
public sealed class SocketsIcmpStormTests(SocketsRelayServerFixture server) : IcmpStormTestsBase(server), IClassFixture<SocketsRelayServerFixture>;

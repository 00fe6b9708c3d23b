using Microsoft.Extensions.DependencyInjection;
using Turn.Relay.Allocations;
using Turn.Stun;
using Turn.Transports;

namespace Turn.Server.Tests;

/// <summary>
/// RFC 8656 §5, §7.2 item 10: a flood of Allocate requests with valid credentials gets 486 beyond the quotas and
/// cannot take more relay ports than the quotas allow.
/// </summary>
public class QuotaFloodTests(QuotaRelayServerFixture server) : IClassFixture<QuotaRelayServerFixture>
{
    [Fact]
    public async Task Rfc8656_S7_2_item10_allocate_flood_is_bounded_by_the_quotas()
    {
        var clients = new List<TurnTestClient>();
        try
        {
            int granted = 0, refused = 0;
            string[] users = ["alice", "bob", "carol"];
            string[] passwords = ["a", "b", "c"];
            for (int i = 0; i < 30; i++)
            {
                var client = new TurnTestClient(server.V4, users[i % 3], passwords[i % 3]);
                clients.Add(client);
                byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
                int? code = TurnTestClient.ErrorCode(answer);
                if (code is null)
                {
                    granted++;
                }
                else
                {
                    Assert.Equal(StunErrorCode.AllocationQuotaReached, code);
                    refused++;
                }
            }

            Assert.Equal(QuotaRelayServerFixture.TotalQuota, granted);
            Assert.Equal(30 - QuotaRelayServerFixture.TotalQuota, refused);
            Assert.Equal(QuotaRelayServerFixture.TotalQuota, server.Services.GetRequiredService<AllocationTable>().Count);
            Assert.Equal(QuotaRelayServerFixture.TotalQuota, server.Services.GetRequiredService<RelayPortAllocatorSet>().PortsInUse);
            foreach (string user in users)
            {
                Assert.InRange(server.Services.GetRequiredService<AllocationTable>().CountForUser(user), 0, QuotaRelayServerFixture.UserQuota);
            }

            // Deleting one frees one slot for the next request.
            byte[] deleted = await clients[0].RequestAsync(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(0));
            Assert.Null(TurnTestClient.ErrorCode(deleted));
            using var late = new TurnTestClient(server.V4, "carol", "c");
            Assert.Null(TurnTestClient.ErrorCode(await late.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
        }
        finally
        {
            foreach (TurnTestClient client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// RFC 8656 §21.3.1: a 401 flood and password guessing from one address are answered up to --unauthenticated-burst
    /// and then dropped (counted in turn_dropped_packets_total{reason="rate_limited"}); a client with the right password
    /// from that address still allocates.
    /// </summary>
    [Fact]
    public async Task Requests_failing_authentication_are_answered_at_a_bounded_rate_per_address()
    {
        await using var limited = new ConfiguredRelayServer(["--unauthenticated-rate", "1", "--unauthenticated-burst", "3"]);
        await limited.InitializeAsync();
        using var alice = new TurnTestClient(limited.V4, RelayServerFixture.User, RelayServerFixture.Password);
        Assert.Null(TurnTestClient.ErrorCode(await alice.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
        using var guesser = new TurnTestClient(limited.V4, RelayServerFixture.User, "guessed-wrong");
        byte[] first = await guesser.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Equal(StunErrorCode.Unauthenticated, TurnTestClient.ErrorCode(first));
        int answered = 0;
        for (int i = 0; i < 6; i++)
        {
            byte[] guess = guesser.SignedRequest(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            answered += await StunTestClient.ExchangeUdpAsync(guesser.Socket, guess, TimeSpan.FromMilliseconds(300)) is null ? 0 : 1;
        }

        // The burst of 3 went on alice's challenge and the guesser's two answers; at 1 per second, at most two more of
        // the six guesses (1.8 s) get one.
        Assert.InRange(answered, 0, 2);
        Assert.True(limited.Counters.Dropped(Turn.Relay.DropReason.RateLimited) >= 4);
        Assert.Null(TurnTestClient.ErrorCode(await alice.RequestOnceAsync(StunMethod.Refresh)));
    }
}

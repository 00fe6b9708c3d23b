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
}

using FsCheck.Xunit;
using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>
/// RFC 8656 §5, §7.2 (items 2 and 10), §8 under random sequences: Allocate, Refresh (to extend or, with LIFETIME 0, to
/// delete) and the clock moving on, from four clients of two users, with the engine's quotas. After every step (and the
/// expiry sweep the server runs every second) the engine's answers and its allocation table agree with a simple model:
/// one allocation per 5-tuple (437 on a second), per-user and total quotas (486), expiry at exactly the lifetime, and
/// per-user counts that never drift.
/// </summary>
public class AllocationTableProperties
{
    private const int UserQuota = 3;
    private const int TotalQuota = 5;

    private static readonly FiveTuple[] Clients =
        [Tuple("198.51.100.10", 40000), Tuple("198.51.100.10", 40001), Tuple("198.51.100.11", 40000), Tuple("198.51.100.12", 40000),
         Tuple("198.51.100.13", 40000), Tuple("198.51.100.14", 40000), Tuple("198.51.100.15", 40000)];

    private static readonly string[] Users = ["alice", "bob"];

    private static readonly int[] Steps = [1, 97, 333, 601];

    [Property(MaxTest = 150)]
    public void Random_allocate_refresh_and_time_keep_the_table_consistent(int seed)
    {
        var random = new Random(seed);
        var engine = new EngineHarness(new TurnEngineOptions { Software = "engine", UserQuota = UserQuota, TotalQuota = TotalQuota });
        var model = new Dictionary<FiveTuple, (string User, long ExpiresAt)>();
        long now = 0;
        for (int step = 0; step < 60; step++)
        {
            FiveTuple client = Clients[random.Next(Clients.Length)];
            switch (random.Next(4))
            {
                case 0:
                {
                    string user = Users[random.Next(Users.Length)];
                    Answer answer = engine.Send(Allocate(user: user), client)!;
                    if (model.ContainsKey(client))
                    {
                        Assert.Equal(StunErrorCode.AllocationMismatch, answer.ErrorCode);
                    }
                    else if (model.Count >= TotalQuota || model.Values.Count(v => v.User == user) >= UserQuota)
                    {
                        Assert.Equal(StunErrorCode.AllocationQuotaReached, answer.ErrorCode);
                    }
                    else
                    {
                        Assert.Equal(StunClass.SuccessResponse, answer.Class);
                        model[client] = (user, now + 600);
                    }

                    break;
                }

                case 1 or 2:
                {
                    bool delete = random.Next(2) == 0;
                    string user = model.TryGetValue(client, out var held) ? held.User : Users[0];
                    Answer answer = engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) =>
                    {
                        if (delete)
                        {
                            w.AddLifetime(0);
                        }
                    }, user), client)!;
                    if (!model.ContainsKey(client))
                    {
                        Assert.Equal(StunErrorCode.AllocationMismatch, answer.ErrorCode);
                    }
                    else
                    {
                        Assert.Equal(StunClass.SuccessResponse, answer.Class);
                        if (delete)
                        {
                            model.Remove(client);
                        }
                        else
                        {
                            model[client] = (user, now + 600);
                        }
                    }

                    break;
                }

                default:
                {
                    int seconds = Steps[random.Next(Steps.Length)];
                    engine.Advance(seconds);
                    now += seconds;
                    foreach (FiveTuple gone in model.Where(e => now >= e.Value.ExpiresAt).Select(e => e.Key).ToList())
                    {
                        model.Remove(gone);
                    }

                    break;
                }
            }

            // The sweep the server runs every second, then the table against the model.
            engine.Allocations.Sweep(engine.Time.GetTimestamp());
            Assert.Equal(model.Count, engine.Allocations.Count);
            foreach (string user in Users)
            {
                Assert.Equal(model.Values.Count(v => v.User == user), engine.Allocations.CountForUser(user));
            }

            Assert.All(model.Keys, tuple => Assert.True(engine.Allocations.TryGet(tuple, out _)));
        }
    }
}

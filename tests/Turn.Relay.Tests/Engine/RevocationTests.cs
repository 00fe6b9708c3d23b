using Turn.Stun;
using static Turn.Relay.Tests.Engine.EngineHarness;

namespace Turn.Relay.Tests.Engine;

/// <summary>Revoked credentials (a cluster's revocation list): no new allocation and no refresh, 403; others unaffected.</summary>
public class RevocationTests
{
    private sealed class Revoked(params string[] names) : IRevocationList
    {
        public HashSet<string> Names { get; } = new(names, StringComparer.Ordinal);

        public bool IsRevoked(string username) => RevokedNames.Matches(Names, username);
    }

    [Fact]
    public void Revoked_user_gets_403_on_allocate_and_refresh()
    {
        var engine = new EngineHarness();
        engine.AllocateOk();
        var list = new Revoked();
        engine.Processor.Revocations = list;
        list.Names.Add("alice");

        Assert.Equal(StunErrorCode.Forbidden, engine.Send(Allocate(), Tuple("198.51.100.80", 1))!.ErrorCode);
        Assert.Equal(StunErrorCode.Forbidden, engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(600)))!.ErrorCode);
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Allocate(user: "bob"), Tuple("198.51.100.81", 1))!.Class);

        list.Names.Clear();
        Assert.Equal(StunClass.SuccessResponse, engine.Send(Request(StunMethod.Refresh, (ref StunMessageWriter w) => w.AddLifetime(600)))!.Class);
    }
}

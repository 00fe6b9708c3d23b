namespace Turn.Relay.Tests;

/// <summary>How a revoked name matches a USERNAME: the long-term username itself, or the user id of TURN REST usernames.</summary>
public class RevokedNamesTests
{
    [Theory]
    [InlineData("alice", true)]
    [InlineData("1893456000:alice", true)]
    [InlineData("1893456000:alice2", false)]
    [InlineData("alice2", false)]
    [InlineData("bob", false)]
    [InlineData("1893456000:bob", false)]
    public void A_revoked_user_matches_its_long_term_and_rest_usernames(string username, bool revoked)
    {
        var list = new HashSet<string>(StringComparer.Ordinal) { "alice" };
        Assert.Equal(revoked, RevokedNames.Matches(list, username));
        Assert.False(RevokedNames.Matches(new HashSet<string>(), username));
    }

    [Fact]
    public void A_revoked_rest_username_matches_itself_only()
    {
        var list = new HashSet<string>(StringComparer.Ordinal) { "1893456000:alice" };
        Assert.True(RevokedNames.Matches(list, "1893456000:alice"));
        Assert.False(RevokedNames.Matches(list, "1893459999:alice"));
        Assert.False(RevokedNames.Matches(list, "alice"));
    }
}

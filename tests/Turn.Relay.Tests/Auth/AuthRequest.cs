using System.Net;
using System.Text;
using Turn.Stun;

namespace Turn.Relay.Tests.Auth;

/// <summary>Which integrity attribute a test request carries.</summary>
internal enum RequestIntegrity
{
    None,
    MessageIntegrity,
    MessageIntegritySha256,
    TruncatedMessageIntegritySha256,
}

/// <summary>A client's TURN request (Allocate by default) with long-term credentials, built with the codec as a real client would.</summary>
internal sealed record AuthRequest
{
    public static readonly FiveTuple Client = Tuple("192.0.2.1", 32853);

    public string? Username { get; init; }

    public byte[]? UserHash { get; init; }

    public string? Realm { get; init; }

    public string? Nonce { get; init; }

    public PasswordAlgorithm[]? Algorithms { get; init; }

    public PasswordAlgorithm? Algorithm { get; init; }

    /// <summary>The HMAC key the client signs with.</summary>
    public byte[] Key { get; init; } = [];

    public RequestIntegrity Integrity { get; init; } = RequestIntegrity.MessageIntegrity;

    public TransactionId TransactionId { get; init; } = TransactionId.NewRandom();

    public StunMethod Method { get; init; } = StunMethod.Allocate;

    public static FiveTuple Tuple(string clientIp, int clientPort) => new(
        TransportAddress.FromIPAddress(IPAddress.Parse(clientIp), clientPort),
        TransportAddress.FromIPAddress(IPAddress.Parse("198.51.100.7"), 3478),
        TransportProtocol.Udp);

    /// <summary>RFC 8489 §9.2.2 / §18.5.1.2, derived the way a client does, independently of the server's tables.</summary>
    public static byte[] LongTermKey(string username, string realm, string password, PasswordAlgorithm algorithm)
    {
        byte[] key = new byte[StunCredentials.GetKeyLength(algorithm)];
        StunCredentials.DeriveLongTermKey(username, realm, password, algorithm, key);
        return key;
    }

    public byte[] Build()
    {
        byte[] buffer = new byte[1024];
        var writer = new StunMessageWriter(buffer, new StunMessageType(Method, StunClass.Request), TransactionId);
        if (Method == StunMethod.Allocate)
        {
            writer.AddRequestedTransport(RequestedTransportValue.Udp);
        }

        if (Username is not null)
        {
            writer.AddText(StunAttributeType.Username, Username);
        }

        if (UserHash is not null)
        {
            writer.AddAttribute(StunAttributeType.UserHash, UserHash);
        }

        if (Realm is not null)
        {
            writer.AddText(StunAttributeType.Realm, Realm);
        }

        if (Nonce is not null)
        {
            writer.AddText(StunAttributeType.Nonce, Nonce);
        }

        if (Algorithms is not null)
        {
            writer.AddPasswordAlgorithms(Algorithms);
        }

        if (Algorithm is { } algorithm)
        {
            writer.AddPasswordAlgorithm(algorithm);
        }

        switch (Integrity)
        {
            case RequestIntegrity.MessageIntegrity:
                writer.AddMessageIntegrity(Key);
                break;
            case RequestIntegrity.MessageIntegritySha256:
                writer.AddMessageIntegritySha256(Key);
                break;
            case RequestIntegrity.TruncatedMessageIntegritySha256:
                writer.AddMessageIntegritySha256(Key, StunConstants.MessageIntegritySha256MinLength);
                break;
        }

        writer.AddFingerprint();
        Assert.False(writer.HasOverflowed);
        return buffer[..writer.Length];
    }
}

/// <summary>What a client reads from a 401/438 built with <c>AddChallenge</c>.</summary>
internal sealed record Challenge(string Realm, string Nonce, byte[] PasswordAlgorithms, int ErrorCode, byte[] Message)
{
    public static Challenge Read(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        Assert.Equal(StunClass.ErrorResponse, reader.Header.Class);
        Assert.True(reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error));
        Assert.True(ErrorCodeValue.TryRead(error.Value, out int code, out _));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute realm));
        Assert.True(reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute nonce));
        Assert.True(reader.TryGetAttribute(StunAttributeType.PasswordAlgorithms, out StunAttribute algorithms));
        return new Challenge(Encoding.UTF8.GetString(realm.Value), Encoding.ASCII.GetString(nonce.Value),
            algorithms.Value.ToArray(), code, message);
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// A small TURN client over a real UDP socket for end-to-end tests: it answers the 401 challenge with long-term
/// credentials (RFC 8489 §9.2.3) and signs every later request with the nonce it was given.
/// </summary>
internal sealed class TurnTestClient : IDisposable
{
    private readonly string _username;
    private readonly string _password;
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;

    public TurnTestClient(IPEndPoint server, string username, string password)
    {
        Socket = StunTestClient.UdpSocket(server);
        _username = username;
        _password = password;
    }

    public Socket Socket { get; }

    public TransportAddress LocalAddress => StunTestClient.LocalAddress(Socket);

    public byte[]? Key => _key;

    public void Dispose() => Socket.Dispose();

    public delegate void Attributes(ref StunMessageWriter writer);

    /// <summary>
    /// Sends a request, answering a 401 or 438 once with fresh credentials; returns the final answer's bytes.
    /// </summary>
    public async Task<byte[]> RequestAsync(StunMethod method, Attributes? attributes = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var id = TransactionId.NewRandom();
            byte[]? answer = await StunTestClient.ExchangeUdpAsync(Socket, Build(method, id, attributes));
            Assert.NotNull(answer);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(answer, out StunMessageReader reader));
            Assert.Equal(id, reader.Header.TransactionId);
            int? code = ErrorCode(reader);
            if (attempt == 0 && code is StunErrorCode.Unauthenticated or StunErrorCode.StaleNonce)
            {
                Assert.True(reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute realm));
                Assert.True(reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute nonce));
                _realm = Encoding.UTF8.GetString(realm.Value);
                _nonce = Encoding.UTF8.GetString(nonce.Value);
                _key = new byte[16];
                StunCredentials.DeriveLongTermKey(_username, _realm, _password, PasswordAlgorithm.Md5, _key);
                continue;
            }

            return answer;
        }
    }

    /// <summary>An indication (never answered): sent and forgotten.</summary>
    public async Task IndicateAsync(StunMethod method, Attributes attributes)
    {
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, StunClass.Indication), TransactionId.NewRandom());
        attributes(ref writer);
        writer.AddFingerprint();
        await Socket.SendAsync(buffer.AsMemory(0, writer.Length));
    }

    public static int? ErrorCode(in StunMessageReader reader) =>
        reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error) && ErrorCodeValue.TryRead(error.Value, out int code, out _)
            ? code
            : null;

    public static int? ErrorCode(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        return ErrorCode(reader);
    }

    public static TransportAddress? XorAddress(byte[] message, StunAttributeType type)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        return reader.TryGetAttribute(type, out StunAttribute attribute) && XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress address)
            ? address
            : null;
    }

    private byte[] Build(StunMethod method, TransactionId id, Attributes? attributes)
    {
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, StunClass.Request), id);
        attributes?.Invoke(ref writer);
        if (_key is not null)
        {
            writer.AddText(StunAttributeType.Username, _username);
            writer.AddText(StunAttributeType.Realm, _realm!);
            writer.AddText(StunAttributeType.Nonce, _nonce!);
            writer.AddMessageIntegrity(_key);
        }

        writer.AddFingerprint();
        return buffer[..writer.Length];
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// A small TURN client over a real UDP socket, TCP connection or DTLS association for end-to-end tests: it answers the
/// 401 challenge with long-term credentials (RFC 8489 §9.2.3) and signs every later request with the nonce it was given.
/// Over TCP it frames the stream itself (RFC 8489 §6.2.2: 20 + Length; RFC 8656 §12.5: ChannelData padded to 4); over
/// DTLS every message is one record, as over UDP.
/// </summary>
internal sealed class TurnTestClient : IDisposable
{
    private readonly string _username;
    private readonly string _password;
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;
    private readonly Stream? _stream;
    private readonly DtlsTestLink? _dtls;

    public TurnTestClient(IPEndPoint server, string username, string password)
        : this(server, username, password, tcp: false)
    {
    }

    /// <summary>A client over an established stream (e.g. TLS over <paramref name="socket"/>).</summary>
    public TurnTestClient(Socket socket, Stream stream, string username, string password)
    {
        Socket = socket;
        _stream = stream;
        _username = username;
        _password = password;
    }

    /// <summary>A client over an established DTLS association (see <see cref="DtlsTestLink"/>).</summary>
    public TurnTestClient(DtlsTestLink dtls, string username, string password)
    {
        Socket = dtls.Socket;
        _dtls = dtls;
        _username = username;
        _password = password;
    }

    /// <summary>A UDP client of the test user with an allocation (UDP relay) that succeeded, and its relayed address.</summary>
    public static async Task<(TurnTestClient Client, TransportAddress Relayed)> AllocateUdpAsync(IPEndPoint server)
    {
        var client = new TurnTestClient(server, RelayServerFixture.User, RelayServerFixture.Password);
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(ErrorCode(answer));
        return (client, XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value);
    }

    /// <summary>
    /// A client over TLS: connects, and completes the handshake trusting only the certificate whose SHA-256 is
    /// <paramref name="pinnedSha256"/>, offering <paramref name="alpn"/>.
    /// </summary>
    public static async Task<(TurnTestClient Client, System.Net.Security.SslStream Tls)> ConnectTlsAsync(IPEndPoint server, string username,
        string password, string pinnedSha256, string alpn = "stun.turn", IPAddress? localAddress = null)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (localAddress is not null)
        {
            socket.Bind(new IPEndPoint(localAddress, 0));
        }

        await socket.ConnectAsync(server);
        var tls = new System.Net.Security.SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false,
            (_, certificate, _, _) => certificate is not null
                && Convert.ToHexString(certificate.GetCertHash(System.Security.Cryptography.HashAlgorithmName.SHA256)) == pinnedSha256);
        await tls.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [new System.Net.Security.SslApplicationProtocol(alpn)],
        });
        return (new TurnTestClient(socket, tls, username, password), tls);
    }

    /// <summary>A client over UDP or TCP; <paramref name="localAddress"/> picks its source address (e.g. 127.0.0.2).</summary>
    public TurnTestClient(IPEndPoint server, string username, string password, bool tcp, IPAddress? localAddress = null)
    {
        if (tcp)
        {
            Socket = new Socket(server.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            if (localAddress is not null)
            {
                Socket.Bind(new IPEndPoint(localAddress, 0));
            }

            Socket.Connect(server);
            _stream = new NetworkStream(Socket, ownsSocket: false);
        }
        else
        {
            Socket = localAddress is null ? StunTestClient.UdpSocket(server) : StunTestClient.UdpSocket(server, localAddress);
        }

        _username = username;
        _password = password;
    }

    public Socket Socket { get; }

    public TransportAddress LocalAddress => StunTestClient.LocalAddress(Socket);

    public byte[]? Key => _key;

    /// <summary>Signs from now on with the realm, nonce and key <paramref name="other"/> holds (RFC 6062 §4.4: a data connection uses the control connection's).</summary>
    public void UseCredentialsOf(TurnTestClient other)
    {
        ArgumentNullException.ThrowIfNull(other);
        _realm = other._realm;
        _nonce = other._nonce;
        _key = other._key;
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _dtls?.Dispose();
        Socket.Dispose();
    }

    /// <summary>Sends bytes as they are: one datagram, one DTLS record, or onto the stream.</summary>
    public async Task SendRawAsync(byte[] bytes)
    {
        if (_dtls is not null)
        {
            await _dtls.SendAsync(bytes);
        }
        else if (_stream is null)
        {
            await Socket.SendAsync(bytes);
        }
        else
        {
            await _stream.WriteAsync(bytes);
        }
    }

    /// <summary>
    /// The next message from the server: one datagram, or one frame cut from the stream (padding included); null
    /// when none comes within <paramref name="timeout"/>.
    /// </summary>
    public async Task<byte[]?> ReceiveAsync(TimeSpan timeout)
    {
        if (_dtls is not null)
        {
            return await _dtls.ReceiveAsync(timeout);
        }

        if (_stream is null)
        {
            return await StunTestClient.ReceiveUdpAsync(Socket, timeout);
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            byte[] header = new byte[4];
            await _stream.ReadExactlyAsync(header, cts.Token);
            int length = (header[2] << 8) | header[3];
            int total = (header[0] & 0xC0) == 0x40 ? 4 + ((length + 3) & ~3) : 20 + length;
            byte[] frame = new byte[total];
            header.CopyTo(frame, 0);
            await _stream.ReadExactlyAsync(frame.AsMemory(4), cts.Token);
            return frame;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public delegate void Attributes(ref StunMessageWriter writer);

    /// <summary>
    /// Sends a request, answering a 401 or 438 once with fresh credentials; returns the final answer's bytes.
    /// </summary>
    public async Task<byte[]> RequestAsync(StunMethod method, Attributes? attributes = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var id = TransactionId.NewRandom();
            byte[]? answer = await ExchangeAsync(Build(method, id, attributes));
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

    /// <summary>Sends a request signed with the credentials held now, once (no challenge answered); returns the answer.</summary>
    public async Task<byte[]> RequestOnceAsync(StunMethod method, Attributes? attributes = null)
    {
        byte[]? answer = await ExchangeAsync(Build(method, TransactionId.NewRandom(), attributes));
        Assert.NotNull(answer);
        return answer;
    }

    /// <summary>A request signed with the credentials held now, as bytes, for a test to send as it likes.</summary>
    public byte[] SignedRequest(StunMethod method, Attributes? attributes = null) => Build(method, TransactionId.NewRandom(), attributes);

    /// <summary>An indication (never answered): sent and forgotten.</summary>
    public async Task IndicateAsync(StunMethod method, Attributes attributes)
    {
        byte[] buffer = new byte[2048];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, StunClass.Indication), TransactionId.NewRandom());
        attributes(ref writer);
        writer.AddFingerprint();
        await SendRawAsync(buffer[..writer.Length]);
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

    /// <summary>Sends a request and returns the next STUN message (data frames that arrive first are skipped).</summary>
    private async Task<byte[]?> ExchangeAsync(byte[] request)
    {
        if (_stream is null && _dtls is null)
        {
            return await StunTestClient.ExchangeUdpAsync(Socket, request);
        }

        await SendRawAsync(request);
        while (true)
        {
            byte[]? frame = await ReceiveAsync(StunTestClient.AnswerTimeout);
            if (frame is null || frame[0] < 0x40)
            {
                return frame;
            }
        }
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

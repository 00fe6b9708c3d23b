using System.Net;
using System.Net.Sockets;
using System.Text;
using Turn.Stun;

namespace Turn.Server.Probe;

/// <summary>
/// A minimal TURN client over UDP for the synthetic probe: Allocate with long-term credentials (answering the 401
/// once, and a 438 once), ChannelBind, ChannelData, Refresh. Requests are sent again after 500 ms, up to 4 times.
/// </summary>
internal sealed class TurnProbeClient : IDisposable
{
    private static readonly TimeSpan RetransmitAfter = TimeSpan.FromMilliseconds(500);
    private const int Attempts = 4;

    private readonly Socket _socket;
    private readonly string _username;
    private readonly string _password;
    private readonly byte[] _buffer = new byte[2048];
    private string? _realm;
    private string? _nonce;
    private byte[]? _key;

    public TurnProbeClient(IPEndPoint server, string username, string password)
    {
        _username = username;
        _password = password;
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Connect(server);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>RFC 8656 §7: a UDP allocation; returns the relayed address.</summary>
    public async Task<TransportAddress> AllocateAsync(CancellationToken cancellationToken)
    {
        byte[] answer = await RequestAsync(StunMethod.Allocate, static (ref StunMessageWriter w) => w.AddRequestedTransport(17), cancellationToken)
            .ConfigureAwait(false);
        StunMessageReader.TryParse(answer, out StunMessageReader reader);
        return reader.TryGetAttribute(StunAttributeType.XorRelayedAddress, out StunAttribute relayed)
            && XorAddressValue.TryRead(relayed.Value, reader.Header.TransactionId, out TransportAddress address)
                ? address
                : throw new ProbeException("the Allocate success response has no XOR-RELAYED-ADDRESS");
    }

    /// <summary>RFC 8656 §12: binds <paramref name="channel"/> to <paramref name="peer"/> (which also installs its permission).</summary>
    public Task ChannelBindAsync(ushort channel, TransportAddress peer, CancellationToken cancellationToken) =>
        RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(channel);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, peer);
        }, cancellationToken);

    /// <summary>RFC 8656 §8: deletes the allocation (LIFETIME 0); failures are ignored (it expires anyway).</summary>
    public async Task DeleteAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RequestAsync(StunMethod.Refresh, static (ref StunMessageWriter w) => w.AddLifetime(0), cancellationToken).ConfigureAwait(false);
        }
        catch (ProbeException)
        {
        }
    }

    public ValueTask<int> SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken) =>
        _socket.SendAsync(datagram, SocketFlags.None, cancellationToken);

    /// <summary>The next datagram from the server, or 0 when <paramref name="cancellationToken"/> ends the wait.</summary>
    public async Task<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (SocketException)
        {
            // ICMP port unreachable and the like: nothing came.
            return 0;
        }
    }

    private delegate void Attributes(ref StunMessageWriter writer);

    private async Task<byte[]> RequestAsync(StunMethod method, Attributes attributes, CancellationToken cancellationToken)
    {
        for (int round = 0; round < 3; round++)
        {
            var id = TransactionId.NewRandom();
            byte[] request = Build(method, id, attributes);
            byte[]? answer = await ExchangeAsync(request, id, cancellationToken).ConfigureAwait(false)
                ?? throw new ProbeException($"no answer to {method} after {Attempts} attempts");
            var (success, code, realm, nonce) = Inspect(answer);
            if (success)
            {
                return answer;
            }

            bool retry = (code == StunErrorCode.Unauthenticated && _key is null) || code == StunErrorCode.StaleNonce;
            if (!retry || realm is null || nonce is null)
            {
                throw new ProbeException($"{method} answered with error {code}" + (code == StunErrorCode.Unauthenticated ? " (wrong credentials?)" : ""));
            }

            _realm = realm;
            _nonce = nonce;
            _key = new byte[16];
            StunCredentials.DeriveLongTermKey(_username, _realm, _password, PasswordAlgorithm.Md5, _key);
        }

        throw new ProbeException($"{method} kept being challenged");
    }

    /// <summary>Success or not, the error code, and the REALM and NONCE of a challenge.</summary>
    private static (bool Success, int Code, string? Realm, string? Nonce) Inspect(byte[] answer)
    {
        StunMessageReader.TryParse(answer, out StunMessageReader reader);
        if (reader.Header.Type.Class == StunClass.SuccessResponse)
        {
            return (true, 0, null, null);
        }

        int code = reader.TryGetAttribute(StunAttributeType.ErrorCode, out StunAttribute error) && ErrorCodeValue.TryRead(error.Value, out int c, out _) ? c : 0;
        string? realm = reader.TryGetAttribute(StunAttributeType.Realm, out StunAttribute r) ? Encoding.UTF8.GetString(r.Value) : null;
        string? nonce = reader.TryGetAttribute(StunAttributeType.Nonce, out StunAttribute n) ? Encoding.UTF8.GetString(n.Value) : null;
        return (false, code, realm, nonce);
    }

    private async Task<byte[]?> ExchangeAsync(byte[] request, TransactionId id, CancellationToken cancellationToken)
    {
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            await _socket.SendAsync(request, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(RetransmitAfter);
            while (true)
            {
                int received = await ReceiveAsync(_buffer, wait.Token).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                if (received == 0)
                {
                    break;
                }

                if (StunMessageReader.TryParse(_buffer.AsSpan(0, received), out StunMessageReader reader) == StunParseStatus.Success
                    && reader.Header.TransactionId == id)
                {
                    return _buffer[..received];
                }
            }
        }

        return null;
    }

    private byte[] Build(StunMethod method, TransactionId id, Attributes attributes)
    {
        byte[] buffer = new byte[1024];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, StunClass.Request), id);
        attributes(ref writer);
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

/// <summary>A probe step that failed: the message says which and why.</summary>
public sealed class ProbeException(string message) : Exception(message);

using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Turn.Server.Tests;

/// <summary>
/// The client side of a DTLS 1.2 association (RFC 6347) for end-to-end tests: BouncyCastle's DtlsClientProtocol over
/// a UDP socket connected to the server on loopback, trusting only the certificate with a pinned SHA-256. Every
/// datagram that crosses the socket is recorded, so a test can look at the handshake itself (the cookie exchange).
/// </summary>
internal sealed class DtlsTestLink : IDisposable
{
    private readonly RecordingTransport _transport;
    private readonly DtlsTransport _dtls;

    private DtlsTestLink(RecordingTransport transport, DtlsTransport dtls)
    {
        _transport = transport;
        _dtls = dtls;
    }

    public Socket Socket => _transport.Socket;

    /// <summary>Datagrams the client sent, in order (the handshake's first: a ClientHello without a cookie).</summary>
    public IReadOnlyList<byte[]> Sent => _transport.Sent;

    /// <summary>Datagrams the client received, in order.</summary>
    public IReadOnlyList<byte[]> Received => _transport.Received;

    /// <summary>
    /// Connects (from <paramref name="localPort"/> when given) and completes the handshake; throws when it fails or takes
    /// longer than <paramref name="handshakeTimeout"/>.
    /// </summary>
    public static Task<DtlsTestLink> ConnectAsync(IPEndPoint server, string pinnedSha256, TimeSpan? handshakeTimeout = null,
        int sendLimit = int.MaxValue, int localPort = 0) =>
        Task.Run(() =>
        {
            var transport = new RecordingTransport(StunTestClient.UdpSocket(server, localPort), sendLimit);
            try
            {
                var crypto = new BcTlsCrypto(new SecureRandom());
                var client = new PinningClient(crypto, pinnedSha256, handshakeTimeout ?? TimeSpan.FromSeconds(10));
                return new DtlsTestLink(transport, new DtlsClientProtocol().Connect(client, transport));
            }
            catch
            {
                transport.Close();
                throw;
            }
        });

    /// <summary>The datagrams of a first flight: a ClientHello as a client sends it before it has a cookie.</summary>
    public static async Task<byte[]> FirstClientHelloAsync(IPEndPoint server, string pinnedSha256)
    {
        using DtlsTestLink link = await ConnectAsync(server, pinnedSha256);
        return link.Sent[0];
    }

    /// <summary>True when <paramref name="datagram"/> is a HelloVerifyRequest (RFC 6347 §4.2.1): handshake record, type 3.</summary>
    public static bool IsHelloVerifyRequest(byte[] datagram) => datagram.Length > 13 && datagram[0] == 22 && datagram[13] == 3;

    /// <summary>One message in one application record.</summary>
    public Task SendAsync(byte[] message) => Task.Run(() => _dtls.Send(message, 0, message.Length));

    /// <summary>The next application record, or null when none arrives within <paramref name="timeout"/>.</summary>
    public Task<byte[]?> ReceiveAsync(TimeSpan timeout) => Task.Run(() =>
    {
        byte[] buffer = new byte[65536];
        int received = _dtls.Receive(buffer, 0, buffer.Length, (int)timeout.TotalMilliseconds);
        return received < 0 ? null : buffer[..received];
    });

    /// <summary>Goes away without a word (a client that crashed): the socket closes, no close_notify.</summary>
    public void Abandon() => _transport.Close();

    /// <summary>Ends the association with close_notify (RFC 5246 §7.2.1).</summary>
    public void Dispose()
    {
        try
        {
            _dtls.Close();
        }
        catch (IOException)
        {
        }

        _transport.Close();
    }

    /// <summary>A UDP socket as BouncyCastle's transport; sends beyond <c>sendLimit</c> are swallowed (a client that stalls).</summary>
    private sealed class RecordingTransport(Socket socket, int sendLimit) : DatagramTransport
    {
        private readonly List<byte[]> _sent = [];
        private readonly List<byte[]> _received = [];

        public Socket Socket { get; } = socket;

        public IReadOnlyList<byte[]> Sent
        {
            get
            {
                lock (_sent)
                {
                    return [.. _sent];
                }
            }
        }

        public IReadOnlyList<byte[]> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received];
                }
            }
        }

        public int GetReceiveLimit() => 65535;

        public int GetSendLimit() => 1400;

        public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

        public int Receive(Span<byte> buffer, int waitMillis)
        {
            Socket.ReceiveTimeout = waitMillis;
            int received = Socket.Receive(buffer);
            lock (_received)
            {
                _received.Add(buffer[..received].ToArray());
            }

            return received;
        }

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            lock (_sent)
            {
                if (_sent.Count >= sendLimit)
                {
                    return;
                }

                _sent.Add(buffer.ToArray());
            }

            Socket.Send(buffer);
        }

        public void Close() => Socket.Dispose();
    }

    private sealed class PinningClient(BcTlsCrypto crypto, string pinnedSha256, TimeSpan handshakeTimeout) : DefaultTlsClient(crypto)
    {
        public override int GetHandshakeTimeoutMillis() => (int)handshakeTimeout.TotalMilliseconds;

        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

        public override TlsAuthentication GetAuthentication() => new PinnedServer(pinnedSha256);
    }

    private sealed class PinnedServer(string pinnedSha256) : TlsAuthentication
    {
        public void NotifyServerCertificate(TlsServerCertificate serverCertificate)
        {
            byte[] der = serverCertificate.Certificate.GetCertificateAt(0).GetEncoded();
            if (Convert.ToHexString(SHA256.HashData(der)) != pinnedSha256)
            {
                throw new TlsFatalAlert(AlertDescription.bad_certificate);
            }
        }

        public TlsCredentials? GetClientCredentials(CertificateRequest certificateRequest) => null;
    }
}

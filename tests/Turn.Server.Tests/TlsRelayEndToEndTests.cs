using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// TURN over TLS (RFC 8656 §5, TLS-over-TCP on its own port, RFC 8656 §4.1): the handshake, ALPN (RFC 7443), and an
/// allocation whose data comes back inside the TLS stream. Real sockets on loopback against an in-process server.
/// </summary>
public sealed class TlsRelayEndToEndTests(RelayServerFixture server) : IClassFixture<RelayServerFixture>
{
    private ListenerRegistry Registry => server.Services.GetRequiredService<ListenerRegistry>();

    private IPEndPoint TlsEndPoint => new(IPAddress.Loopback, Registry.TlsPort);

    /// <summary>Checklist 53, RFC 8656 §5, RFC 7443: an Allocate over TLS with ALPN "stun.turn"; relayed data returns inside TLS.</summary>
    [Fact]
    public async Task Rfc8656_S5_allocate_and_relay_over_tls_with_alpn_stun_turn()
    {
        Assert.NotEqual(0, Registry.TlsPort);
        var (client, tls) = await TurnTestClient.ConnectTlsAsync(TlsEndPoint, RelayServerFixture.User, RelayServerFixture.Password,
            Registry.TlsCertificateSha256!);
        using (client)
        await using (tls)
        {
            Assert.Equal("stun.turn", tls.NegotiatedApplicationProtocol.ToString());
            Assert.True(tls.SslProtocol is SslProtocols.Tls12 or SslProtocols.Tls13);
            byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
            Assert.Null(TurnTestClient.ErrorCode(answer));
            TransportAddress relayed = TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value;

            using var peer = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            peer.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            TransportAddress peerAddress = TransportAddress.FromIPEndPoint((IPEndPoint)peer.LocalEndPoint!);
            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4003);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            });
            Assert.Null(TurnTestClient.ErrorCode(bind));
            await peer.SendToAsync(new byte[] { 1, 2, 3, 4, 5 }, relayed.ToIPEndPoint());
            byte[]? frame = await client.ReceiveAsync(TimeSpan.FromSeconds(5));
            Assert.NotNull(frame);
            Assert.Equal(new byte[] { 0x40, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0 }, frame);
        }
    }

    /// <summary>RFC 7443: a client asking for STUN NAT discovery ("stun.nat-discovery") gets it, and a Binding answer.</summary>
    [Fact]
    public async Task Rfc7443_alpn_stun_nat_discovery_is_offered_too()
    {
        var (client, tls) = await TurnTestClient.ConnectTlsAsync(TlsEndPoint, RelayServerFixture.User, RelayServerFixture.Password,
            Registry.TlsCertificateSha256!, "stun.nat-discovery");
        using (client)
        await using (tls)
        {
            Assert.Equal("stun.nat-discovery", tls.NegotiatedApplicationProtocol.ToString());
            byte[] answer = await client.RequestAsync(StunMethod.Binding);
            Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(answer, StunAttributeType.XorMappedAddress));
        }
    }

    /// <summary>
    /// Only TLS 1.2 and 1.3 are served (RFC 8996 deprecates TLS 1.0 and 1.1): a ClientHello that offers at most TLS 1.1
    /// (client_version 3.2, no supported_versions extension) gets a fatal protocol_version alert (RFC 5246 §7.2.2,
    /// description 70) and no ServerHello, and counts as a failed handshake. The hello is written byte by byte here, so
    /// the refusal is the server's own, whatever the client library would allow.
    /// </summary>
    [Fact]
    public async Task Rfc8996_a_tls_1_1_client_hello_is_refused_with_a_protocol_version_alert()
    {
        long failedBefore = server.TransportCounters.TlsHandshakesFailed;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(TlsEndPoint);
        await socket.SendAsync(Tls11ClientHello());

        var received = new List<byte>();
        byte[] buffer = new byte[4096];
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token)) > 0)
            {
                received.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // The server may reset after its alert.
        }

        // One record: type 21 (alert), any 3.x version, length 2, level 2 (fatal), description 70 (protocol_version).
        Assert.True(received.Count >= 7, $"no alert came back ({received.Count} bytes)");
        Assert.Equal(21, received[0]);
        Assert.Equal(3, received[1]);
        Assert.Equal(new byte[] { 0, 2, 2, 70 }, received.Skip(3).Take(4).ToArray());
        await Eventually.WaitForAsync(() => server.TransportCounters.TlsHandshakesFailed > failedBefore, "the refused handshake was not counted");
    }

    /// <summary>
    /// By default only forward-secret AEAD suites are served: a TLS 1.2 client that offers nothing but a CBC suite is
    /// refused (RFC 9325 §4.2 recommends the AEAD suites); named with --cipher-list, the same suite is served.
    /// </summary>
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // cipher suite policies are not on Windows
    public async Task Rfc9325_cbc_suites_are_refused_by_default_and_served_when_listed()
    {
        const TlsCipherSuite Cbc = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256;
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(TlsEndPoint, Registry.TlsCertificateSha256!, Cbc));

        var custom = new ConfiguredRelayServer(["--cipher-list", $"{Cbc}:TLS_AES_128_GCM_SHA256"]);
        await custom.InitializeAsync();
        try
        {
            var registry = custom.Services.GetRequiredService<ListenerRegistry>();
            TlsCipherSuite negotiated = await HandshakeAsync(new IPEndPoint(IPAddress.Loopback, registry.TlsPort), registry.TlsCertificateSha256!, Cbc);
            Assert.Equal(Cbc, negotiated);
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>A TLS 1.2 handshake offering only <paramref name="suite"/>; the suite negotiated.</summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static async Task<TlsCipherSuite> HandshakeAsync(IPEndPoint endPoint, string pinnedSha256, TlsCipherSuite suite)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endPoint);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false,
            (_, certificate, _, _) => certificate is not null
                && Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256)) == pinnedSha256);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            EnabledSslProtocols = SslProtocols.Tls12,
            CipherSuitesPolicy = new CipherSuitesPolicy([suite]),
        }, limit.Token);
        return tls.NegotiatedCipherSuite;
    }

    /// <summary>A TLS 1.1 ClientHello (RFC 4346 §7.4.1.2) in one record, offering two TLS 1.1 cipher suites and no extensions.</summary>
    private static byte[] Tls11ClientHello()
    {
        byte[] random = RandomNumberGenerator.GetBytes(32);
        byte[] body =
        [
            3, 2,                       // client_version: TLS 1.1
            .. random,
            0,                          // session_id: empty
            0, 4, 0xC0, 0x13, 0x00, 0x2F, // cipher_suites: ECDHE_RSA_AES_128_CBC_SHA, RSA_AES_128_CBC_SHA
            1, 0,                       // compression_methods: null
        ];
        byte[] handshake = [1, 0, (byte)(body.Length >> 8), (byte)body.Length, .. body]; // ClientHello
        return [22, 3, 1, (byte)(handshake.Length >> 8), (byte)handshake.Length, .. handshake]; // handshake record, TLS 1.0 framing
    }

    /// <summary>A connection that never starts its handshake is closed after the handshake timeout (a slowloris guard).</summary>
    [Fact]
    public async Task A_connection_that_never_handshakes_is_closed()
    {
        var custom = new ConfiguredRelayServer(["--tls-handshake-timeout", "1"]);
        await custom.InitializeAsync();
        try
        {
            var registry = custom.Services.GetRequiredService<ListenerRegistry>();
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, registry.TlsPort));
            var watch = Stopwatch.StartNew();
            byte[] buffer = new byte[16];
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            Assert.Equal(0, read);
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(8));
            Assert.True(custom.TransportCounters.TlsHandshakesFailed >= 1);
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>--cert and --pkey: the server presents the certificate from the PEM files.</summary>
    [Fact]
    public async Task Certificate_and_key_from_pem_files_are_served()
    {
        string dir = Directory.CreateTempSubdirectory("turn-tls-").FullName;
        try
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=pem.test", key, HashAlgorithmName.SHA256);
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
            string certFile = Path.Combine(dir, "cert.pem");
            string keyFile = Path.Combine(dir, "key.pem");
            await File.WriteAllTextAsync(certFile, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, key.ExportPkcs8PrivateKeyPem());
            string expected = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));

            var custom = new ConfiguredRelayServer(["--cert", certFile, "--pkey", keyFile]);
            await custom.InitializeAsync();
            try
            {
                var registry = custom.Services.GetRequiredService<ListenerRegistry>();
                Assert.Equal(expected, registry.TlsCertificateSha256);
                var (client, tls) = await TurnTestClient.ConnectTlsAsync(new IPEndPoint(IPAddress.Loopback, registry.TlsPort),
                    RelayServerFixture.User, RelayServerFixture.Password, expected);
                using (client)
                await using (tls)
                {
                    Assert.Equal("CN=pem.test", tls.RemoteCertificate!.Subject);
                }
            }
            finally
            {
                await custom.DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Certificate files replaced on disk are served to new connections within the reload interval; a connection opened
    /// before keeps working; files that cannot be used keep the current certificate.
    /// </summary>
    [Fact]
    public async Task Replaced_certificate_files_reach_new_connections_and_broken_ones_keep_the_current_certificate()
    {
        using var files = new TempCertificateFiles("turn-tls-reload-");
        string certFile = files.CertFile;
        string keyFile = files.KeyFile;
        string first = await TestCertificates.WriteAsync(certFile, keyFile, "CN=first.test", DateTime.UtcNow.AddMinutes(-10));
        var custom = new ConfiguredRelayServer(["--cert", certFile, "--pkey", keyFile, "--tls-reload-interval", "1"]);
        await custom.InitializeAsync();
        try
        {
            var registry = custom.Services.GetRequiredService<ListenerRegistry>();
            var endPoint = new IPEndPoint(IPAddress.Loopback, registry.TlsPort);
            Assert.Equal(first, registry.TlsCertificateSha256);
            var (before, beforeTls) = await TurnTestClient.ConnectTlsAsync(endPoint, RelayServerFixture.User, RelayServerFixture.Password, first);
            using (before)
            await using (beforeTls)
            {
                Assert.Null(TurnTestClient.ErrorCode(await before.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));

                string second = await TestCertificates.WriteAsync(certFile, keyFile, "CN=second.test", DateTime.UtcNow);
                await Eventually.WaitForAsync(() => registry.TlsCertificateSha256 == second, "the replaced certificate was not picked up");

                var (after, afterTls) = await TurnTestClient.ConnectTlsAsync(endPoint, RelayServerFixture.User, RelayServerFixture.Password, second);
                using (after)
                await using (afterTls)
                {
                    Assert.Equal("CN=second.test", afterTls.RemoteCertificate!.Subject);
                }

                // The connection from before the change still works.
                Assert.Null(TurnTestClient.ErrorCode(await before.RequestAsync(StunMethod.Refresh)));

                await File.WriteAllTextAsync(certFile, "not a certificate");
                File.SetLastWriteTimeUtc(certFile, DateTime.UtcNow.AddSeconds(5));
                await Task.Delay(TimeSpan.FromSeconds(2.5));
                Assert.Equal(second, registry.TlsCertificateSha256);
                var (later, laterTls) = await TurnTestClient.ConnectTlsAsync(endPoint, RelayServerFixture.User, RelayServerFixture.Password, second);
                using (later)
                await using (laterTls)
                {
                    Assert.Equal("CN=second.test", laterTls.RemoteCertificate!.Subject);
                }
            }
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }
}

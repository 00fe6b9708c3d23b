using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Turn.Stun;
using Turn.Transports.Dtls;
using static Turn.Server.Tests.PeerSockets;

namespace Turn.Server.Tests;

/// <summary>
/// TURN over DTLS 1.2 (RFC 8656 §5; DTLS 1.2 is RFC 6347) on the server's DTLS port: the cookie exchange, an
/// allocation whose data travels both ways inside the association, and the limits (handshake timeout, idle timeout,
/// association cap, garbage). Real sockets on loopback against an in-process server.
/// </summary>
public sealed class DtlsRelayEndToEndTests(RelayServerFixture server) : IClassFixture<RelayServerFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private static DtlsCounters CountersOf(ServerFixture fixture) => fixture.Services.GetRequiredService<DtlsCounters>();

    private static ListenerRegistry RegistryOf(ServerFixture fixture) => fixture.Services.GetRequiredService<ListenerRegistry>();

    private static IPEndPoint DtlsEndPoint(ServerFixture fixture) => new(IPAddress.Loopback, RegistryOf(fixture).DtlsPort);

    private static async Task<(TurnTestClient Client, DtlsTestLink Link)> ConnectAsync(ServerFixture fixture, TimeSpan? handshakeTimeout = null)
    {
        DtlsTestLink link = await DtlsTestLink.ConnectAsync(DtlsEndPoint(fixture), RegistryOf(fixture).TlsCertificateSha256!, handshakeTimeout);
        return (new TurnTestClient(link, RelayServerFixture.User, RelayServerFixture.Password), link);
    }

    private static async Task<TransportAddress> AllocateAsync(TurnTestClient client)
    {
        byte[] answer = await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17));
        Assert.Null(TurnTestClient.ErrorCode(answer));
        return TurnTestClient.XorAddress(answer, StunAttributeType.XorRelayedAddress)!.Value;
    }

    /// <summary>
    /// Checklist 53, RFC 8656 §5 over DTLS, after the cookie exchange of RFC 6347 §4.2.1 (the first ClientHello, without a cookie, is
    /// answered with a HelloVerifyRequest): Binding (RFC 8489 §7.3), Allocate with long-term credentials (RFC 8489 §9.2),
    /// CreatePermission and Send/Data indications (RFC 8656 §9, §11), ChannelBind and ChannelData (RFC 8656 §12) both
    /// ways to a UDP peer. ChannelData is framed like over UDP: one message per record, no padding.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S5_binding_allocate_and_relay_both_ways_over_dtls()
    {
        Assert.NotEqual(0, RegistryOf(server).DtlsPort);
        DtlsCounters counters = CountersOf(server);
        long verifies = counters.HelloVerifyRequestsSent;
        long opened = counters.AssociationsOpened;
        var (client, link) = await ConnectAsync(server);
        using (client)
        {
            Assert.True(DtlsTestLink.IsHelloVerifyRequest(link.Received[0]), "the first ClientHello was not answered with a HelloVerifyRequest");
            // Counted once sent, which may be just after the client has it.
            await Eventually.WaitForAsync(() => counters.HelloVerifyRequestsSent >= verifies + 1 && counters.AssociationsOpened >= opened + 1,
                "the HelloVerifyRequest or the association was not counted");
            Assert.Equal(verifies + 1, counters.HelloVerifyRequestsSent);
            Assert.Equal(opened + 1, counters.AssociationsOpened);

            byte[] binding = await client.RequestAsync(StunMethod.Binding);
            Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(binding, StunAttributeType.XorMappedAddress));

            TransportAddress relayed = await AllocateAsync(client);
            using Socket peer = Peer();
            TransportAddress peerAddress = AddressOf(peer);

            byte[] permission = await client.RequestAsync(StunMethod.CreatePermission,
                (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress));
            Assert.Null(TurnTestClient.ErrorCode(permission));
            await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
            {
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
                w.AddAttribute(StunAttributeType.Data, [9, 8, 7]);
            });
            var sent = await ReceiveFromAsync(peer, Wait);
            Assert.NotNull(sent);
            Assert.Equal(new byte[] { 9, 8, 7 }, sent.Value.Data);
            Assert.Equal(relayed, TransportAddress.FromIPEndPoint(sent.Value.From));

            await peer.SendToAsync(new byte[] { 1, 2, 3 }, relayed.ToIPEndPoint());
            byte[]? indication = await client.ReceiveAsync(Wait);
            Assert.NotNull(indication);
            Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(indication, out StunMessageReader data));
            Assert.Equal(new StunMessageType(StunMethod.Data, StunClass.Indication), data.Header.Type);
            Assert.Equal(peerAddress, TurnTestClient.XorAddress(indication, StunAttributeType.XorPeerAddress));

            byte[] bind = await client.RequestAsync(StunMethod.ChannelBind, (ref StunMessageWriter w) =>
            {
                w.AddChannelNumber(0x4002);
                w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
            });
            Assert.Null(TurnTestClient.ErrorCode(bind));
            byte[] payload = new byte[99];
            Random.Shared.NextBytes(payload);
            byte[] frame = new byte[ChannelData.HeaderLength + payload.Length];
            ChannelData.WriteHeader(frame, 0x4002, payload.Length);
            payload.CopyTo(frame, ChannelData.HeaderLength);
            await client.SendRawAsync(frame);
            var atPeer = await ReceiveFromAsync(peer, Wait);
            Assert.NotNull(atPeer);
            Assert.Equal(payload, atPeer.Value.Data);

            await peer.SendToAsync(payload, relayed.ToIPEndPoint());
            byte[]? back = await client.ReceiveAsync(Wait);
            Assert.NotNull(back);
            Assert.Equal(frame, back);
        }
    }

    /// <summary>
    /// RFC 6347 §4.2.1: a ClientHello without the cookie is answered with a HelloVerifyRequest and creates no state on the
    /// server, however many arrive (what a flood from spoofed addresses would send).
    /// </summary>
    [Fact]
    public async Task Rfc6347_S4_2_1_client_hello_without_cookie_gets_hello_verify_request_and_no_association()
    {
        byte[] hello = await DtlsTestLink.FirstClientHelloAsync(DtlsEndPoint(server), RegistryOf(server).TlsCertificateSha256!);
        DtlsCounters counters = CountersOf(server);
        await Eventually.WaitForAsync(() => counters.ActiveAssociations == 0, "the association of the first client did not close");
        long verifies = counters.HelloVerifyRequestsSent;
        long opened = counters.AssociationsOpened;

        using Socket spoofer = StunTestClient.UdpSocket(DtlsEndPoint(server));
        for (int i = 0; i < 20; i++)
        {
            byte[]? answer = await StunTestClient.ExchangeUdpAsync(spoofer, hello);
            Assert.NotNull(answer);
            Assert.True(DtlsTestLink.IsHelloVerifyRequest(answer));
            Assert.Equal(0, counters.ActiveAssociations);
        }

        Assert.Equal(verifies + 20, counters.HelloVerifyRequestsSent);
        Assert.Equal(opened, counters.AssociationsOpened);
    }

    /// <summary>
    /// RFC 8656 §5 (as for TCP): when the client closes the association (close_notify, RFC 5246 §7.2.1), its
    /// allocation is deleted.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S5_closing_the_association_deletes_its_allocation()
    {
        var (client, _) = await ConnectAsync(server);
        await AllocateAsync(client);
        long deleted = server.Counters.AllocationsDeleted;
        client.Dispose();
        await Eventually.WaitForAsync(() => server.Counters.AllocationsDeleted > deleted, "the allocation outlived its association");
        await Eventually.WaitForAsync(() => CountersOf(server).ActiveAssociations == 0, "the association is still open");
    }

    /// <summary>
    /// RFC 6347 §4.1.2.7: datagrams that are not DTLS, or records that do not authenticate, are dropped silently, from
    /// strangers and on an open association alike; the server keeps answering.
    /// </summary>
    [Fact]
    public async Task Rfc6347_S4_1_2_7_garbage_is_dropped_and_the_server_keeps_answering()
    {
        DtlsCounters counters = CountersOf(server);
        using Socket stranger = StunTestClient.UdpSocket(DtlsEndPoint(server));
        var (client, link) = await ConnectAsync(server);
        using (client)
        {
            byte[][] garbage =
            [
                [], [22], [0, 1, 0, 0], new byte[13], [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
                [23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4], new byte[1200], new byte[60000],
            ];
            Random.Shared.NextBytes(garbage[6]);
            garbage[6][0] = 22;
            garbage[6][1] = 0xFE;
            garbage[6][2] = 0xFD;
            garbage[6][3] = 0;
            garbage[6][4] = 0;
            garbage[6][11] = (1200 - 13) >> 8;
            garbage[6][12] = (1200 - 13) & 0xFF;
            Random.Shared.NextBytes(garbage[7]);
            foreach (byte[] datagram in garbage)
            {
                await stranger.SendAsync(datagram);
                await link.Socket.SendAsync(datagram);
            }

            Assert.Null(await StunTestClient.ReceiveUdpAsync(stranger, TimeSpan.FromMilliseconds(300)));
            byte[] binding = await client.RequestAsync(StunMethod.Binding);
            Assert.Equal(client.LocalAddress, TurnTestClient.XorAddress(binding, StunAttributeType.XorMappedAddress));
            Assert.Equal(1, counters.ActiveAssociations);
        }
    }

    /// <summary>
    /// RFC 6347 §4.1.2.7 on an established association: unencrypted (epoch 0) records that the client's handshake would
    /// never send again (an alert, application data, a Finished or a ServerHello in clear, handshake fragments whose
    /// header does not hold together) are dropped before the DTLS stack sees them, so no one who knows the client's
    /// address can end its association with them; the association keeps answering.
    /// </summary>
    [Fact]
    public async Task Rfc6347_S4_1_2_7_unencrypted_records_on_an_established_association_are_dropped()
    {
        DtlsCounters counters = CountersOf(server);
        var (client, link) = await ConnectAsync(server);
        using (client)
        {
            Assert.NotNull(TurnTestClient.XorAddress(await client.RequestAsync(StunMethod.Binding), StunAttributeType.XorMappedAddress));
            static byte[] Record(byte type, byte sequence, params byte[] body) =>
                [type, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, sequence, (byte)(body.Length >> 8), (byte)body.Length, .. body];
            static byte[] Handshake(byte messageType, int length, int offset, int fragmentLength, int bodyLength) =>
                [messageType, (byte)(length >> 16), (byte)(length >> 8), (byte)length, 0, 9, (byte)(offset >> 16), (byte)(offset >> 8), (byte)offset,
                 (byte)(fragmentLength >> 16), (byte)(fragmentLength >> 8), (byte)fragmentLength, .. new byte[bodyLength]];
            byte[][] records =
            [
                Record(21, 90, 2, 40), // a fatal handshake_failure alert in clear
                Record(21, 91, 1, 0), // close_notify in clear
                Record(23, 92, 1, 2, 3, 4), // application data in clear
                Record(22, 93, Handshake(20, 12, 0, 12, 12)), // Finished in clear
                Record(22, 94, Handshake(2, 38, 0, 38, 38)), // ServerHello, from the wrong side
                Record(22, 95, Handshake(16, 66, 0, 200, 66)), // a ClientKeyExchange whose fragment length lies
                Record(22, 96, Handshake(16, 10, 8, 4, 4)), // a fragment beyond the end of its message
                Record(20, 97, 2), // change_cipher_spec of the wrong value
            ];
            long dropped = counters.DatagramsDropped;
            foreach (byte[] record in records)
            {
                await link.Socket.SendAsync(record);
            }

            await Eventually.WaitForAsync(() => counters.DatagramsDropped >= dropped + records.Length, "the records were not dropped");
            Assert.NotNull(TurnTestClient.XorAddress(await client.RequestAsync(StunMethod.Binding), StunAttributeType.XorMappedAddress));
            Assert.Equal(1, counters.ActiveAssociations);
        }
    }

    /// <summary>
    /// A client that gets past the cookie exchange and then stalls in the handshake holds its association only until the
    /// handshake timeout (--tls-handshake-timeout).
    /// </summary>
    [Fact]
    public async Task A_handshake_that_stalls_is_dropped_after_the_handshake_timeout()
    {
        var custom = new ConfiguredRelayServer(["--tls-handshake-timeout", "1"]);
        await custom.InitializeAsync();
        try
        {
            DtlsCounters counters = CountersOf(custom);
            // Two datagrams: the ClientHello, and again with the cookie; the rest of the handshake never leaves.
            Task<DtlsTestLink> stalled = DtlsTestLink.ConnectAsync(DtlsEndPoint(custom), RegistryOf(custom).TlsCertificateSha256!,
                TimeSpan.FromSeconds(4), sendLimit: 2);
            await Eventually.WaitForAsync(() => counters.ActiveAssociations == 1, "no association after the cookie exchange");
            await Eventually.WaitForAsync(() => counters.ActiveAssociations == 0, "the stalled handshake was not dropped", TimeSpan.FromSeconds(4));
            Assert.Equal(1, counters.HandshakesFailed);
            Assert.Equal(0, counters.AssociationsOpened);
            await Assert.ThrowsAnyAsync<Exception>(() => stalled);
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>
    /// --dtls-max-associations holds: past it, a new client gets no association (not even a cookie exchange); once one
    /// closes, a new one fits.
    /// </summary>
    [Fact]
    public async Task The_association_cap_holds()
    {
        var custom = new ConfiguredRelayServer(["--dtls-max-associations", "2"]);
        await custom.InitializeAsync();
        try
        {
            DtlsCounters counters = CountersOf(custom);
            var (first, _) = await ConnectAsync(custom);
            var (second, _) = await ConnectAsync(custom);
            using (first)
            {
                using (second)
                {
                    Assert.Equal(2, counters.ActiveAssociations);
                    long verifies = counters.HelloVerifyRequestsSent;
                    await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(custom, TimeSpan.FromSeconds(2)));
                    Assert.Equal(2, counters.ActiveAssociations);
                    Assert.Equal(verifies, counters.HelloVerifyRequestsSent);
                }

                await Eventually.WaitForAsync(() => counters.ActiveAssociations == 1, "the closed association still counts");
                var (third, _) = await ConnectAsync(custom);
                using (third)
                {
                    byte[] binding = await third.RequestAsync(StunMethod.Binding);
                    Assert.Equal(third.LocalAddress, TurnTestClient.XorAddress(binding, StunAttributeType.XorMappedAddress));
                }
            }
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>
    /// An association without an allocation is closed after --dtls-idle-timeout without traffic; one with an allocation
    /// is kept (RFC 8656 §5: the allocation's lifetime, not the association's, decides).
    /// </summary>
    [Fact]
    public async Task An_idle_association_without_allocation_is_closed_and_one_with_an_allocation_is_kept()
    {
        var custom = new ConfiguredRelayServer(["--dtls-idle-timeout", "1"]);
        await custom.InitializeAsync();
        try
        {
            DtlsCounters counters = CountersOf(custom);
            var (holder, _) = await ConnectAsync(custom);
            using (holder)
            {
                await AllocateAsync(holder);
                var (idle, _) = await ConnectAsync(custom);
                using (idle)
                {
                    Assert.Equal(2, counters.ActiveAssociations);
                    await Eventually.WaitForAsync(() => counters.ActiveAssociations == 1, "the idle association was not closed");
                    Assert.Equal(1, counters.AssociationsClosedIdle);
                }

                await Task.Delay(TimeSpan.FromSeconds(1.5));
                Assert.Equal(1, counters.ActiveAssociations);
                Assert.Null(TurnTestClient.ErrorCode(await holder.RequestAsync(StunMethod.Refresh)));
            }
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>
    /// RFC 6347 §4.2.8: a client that starts over from the same address and port (here: crashed, without close_notify,
    /// and came back on the same port) gets a new association after a cookie exchange; the old association and its
    /// allocation end, and the new client allocates on the same 5-tuple.
    /// </summary>
    [Fact]
    public async Task Rfc6347_S4_2_8_a_new_handshake_from_the_same_port_replaces_the_association()
    {
        DtlsCounters counters = CountersOf(server);
        string pinned = RegistryOf(server).TlsCertificateSha256!;
        DtlsTestLink first = await DtlsTestLink.ConnectAsync(DtlsEndPoint(server), pinned);
        int port = ((IPEndPoint)first.Socket.LocalEndPoint!).Port;
        var crashed = new TurnTestClient(first, RelayServerFixture.User, RelayServerFixture.Password);
        await AllocateAsync(crashed);
        long replaced = counters.AssociationsReplaced;
        long deleted = server.Counters.AllocationsDeleted;
        long verifies = counters.HelloVerifyRequestsSent;
        first.Abandon();

        DtlsTestLink second = await DtlsTestLink.ConnectAsync(DtlsEndPoint(server), pinned, TimeSpan.FromSeconds(5), localPort: port);
        using var client = new TurnTestClient(second, RelayServerFixture.User, RelayServerFixture.Password);
        Assert.True(DtlsTestLink.IsHelloVerifyRequest(second.Received[0]), "the new handshake skipped the cookie exchange");
        Assert.Equal(verifies + 1, counters.HelloVerifyRequestsSent);
        Assert.Equal(replaced + 1, counters.AssociationsReplaced);
        Assert.True(server.Counters.AllocationsDeleted > deleted, "the old association's allocation was not deleted");
        TransportAddress relayed = await AllocateAsync(client);
        Assert.NotEqual(0, relayed.Port);
        await Eventually.WaitForAsync(() => counters.ActiveAssociations == 1, "the replaced association still counts");
    }

    /// <summary>
    /// DTLS serves the same certificate as TLS (--cert/--pkey) and follows its reload: a new association after the files
    /// change gets the new certificate, one opened before keeps working (its allocation answers a Refresh).
    /// </summary>
    [Fact]
    public async Task A_replaced_certificate_reaches_new_dtls_associations_and_old_ones_keep_working()
    {
        using var files = new TempCertificateFiles("turn-dtls-reload-");
        string certFile = files.CertFile;
        string keyFile = files.KeyFile;
        string first = await TestCertificates.WriteAsync(certFile, keyFile, "CN=first.test", DateTime.UtcNow.AddMinutes(-10));
        var custom = new ConfiguredRelayServer(["--cert", certFile, "--pkey", keyFile, "--tls-reload-interval", "1"]);
        await custom.InitializeAsync();
        try
        {
            var (before, _) = await ConnectAsync(custom);
            using (before)
            {
                await AllocateAsync(before);
                string second = await TestCertificates.WriteAsync(certFile, keyFile, "CN=second.test", DateTime.UtcNow);
                await Eventually.WaitForAsync(() => RegistryOf(custom).TlsCertificateSha256 == second, "the replaced certificate was not picked up");

                // The client pins one certificate: the old one is refused now, the new one accepted.
                await Assert.ThrowsAnyAsync<Exception>(() => DtlsTestLink.ConnectAsync(DtlsEndPoint(custom), first, TimeSpan.FromSeconds(3)));
                using (DtlsTestLink after = await DtlsTestLink.ConnectAsync(DtlsEndPoint(custom), second))
                using (var client = new TurnTestClient(after, RelayServerFixture.User, RelayServerFixture.Password))
                {
                    await AllocateAsync(client);
                }

                Assert.Null(TurnTestClient.ErrorCode(await before.RequestAsync(StunMethod.Refresh)));
            }
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>
    /// An RSA certificate works for DTLS too (ECDHE_RSA suites with AES-GCM or ChaCha20-Poly1305, RFC 5289, RFC 7905):
    /// the handshake completes and an allocation relays.
    /// </summary>
    [Fact]
    public async Task An_rsa_certificate_serves_dtls()
    {
        using var files = new TempCertificateFiles("turn-dtls-rsa-");
        string certFile = files.CertFile;
        string keyFile = files.KeyFile;
        string pinned = await TestCertificates.WriteAsync(certFile, keyFile, "CN=rsa.test", DateTime.UtcNow, rsa: true);
        var custom = new ConfiguredRelayServer(["--cert", certFile, "--pkey", keyFile]);
        await custom.InitializeAsync();
        try
        {
            Assert.Equal(pinned, RegistryOf(custom).TlsCertificateSha256);
            var (client, _) = await ConnectAsync(custom);
            using (client)
            {
                TransportAddress relayed = await AllocateAsync(client);
                using Socket peer = Peer();
                TransportAddress peerAddress = AddressOf(peer);
                Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.CreatePermission,
                    (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress))));
                await client.IndicateAsync(StunMethod.Send, (ref StunMessageWriter w) =>
                {
                    w.AddXorAddress(StunAttributeType.XorPeerAddress, peerAddress);
                    w.AddAttribute(StunAttributeType.Data, [4, 5, 6]);
                });
                var atPeer = await ReceiveFromAsync(peer, Wait);
                Assert.NotNull(atPeer);
                Assert.Equal(relayed, TransportAddress.FromIPEndPoint(atPeer.Value.From));
            }
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

    /// <summary>--no-dtls: nothing listens for DTLS.</summary>
    [Fact]
    public async Task No_dtls_turns_it_off()
    {
        var custom = new ConfiguredRelayServer(["--no-dtls"]);
        await custom.InitializeAsync();
        try
        {
            Assert.Equal(0, RegistryOf(custom).DtlsPort);
            Assert.NotEqual(0, RegistryOf(custom).TlsPort);
        }
        finally
        {
            await custom.DisposeAsync();
        }
    }

}

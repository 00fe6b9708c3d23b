using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>Binding over TCP on the same port as UDP (RFC 8489 §6.2.2, §6.3.1.2; RFC 8656 §12.5).</summary>
public class TcpBindingTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private static async Task<(TcpClient Client, NetworkStream Stream)> ConnectAsync(IPEndPoint endPoint)
    {
        var client = new TcpClient(endPoint.AddressFamily);
        await client.ConnectAsync(endPoint);
        return (client, client.GetStream());
    }

    /// <summary>Checklist 19, RFC 8489 §6.3.1.2: the answer comes back on the same connection, mapped address = the client's end.</summary>
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public async Task Rfc8489_S6_3_1_2_Binding_over_TCP_is_answered_on_the_connection(string address)
    {
        var (client, stream) = await ConnectAsync(new IPEndPoint(IPAddress.Parse(address), server.Port));
        using (client)
        {
            var id = TransactionId.NewRandom();
            await stream.WriteAsync(BindingRequest(id));
            byte[]? response = await ReadStunFromStreamAsync(stream);
            Assert.NotNull(response);
            Answer answer = Decode(response);
            Assert.Equal(id, answer.TransactionId);
            Assert.Equal(StunClass.SuccessResponse, answer.Type.Class);
            Assert.Equal(TransportAddress.FromIPEndPoint((IPEndPoint)client.Client.LocalEndPoint!), answer.XorMapped);
            Assert.True(answer.FingerprintValid);
        }
    }

    /// <summary>Checklist 27, RFC 8489 §6.2.2: the stream is framed by the STUN Length, however the bytes arrive (one at a time here).</summary>
    [Fact]
    public async Task Rfc8489_S6_2_2_request_written_one_byte_at_a_time_is_framed()
    {
        var (client, stream) = await ConnectAsync(server.V4);
        using (client)
        {
            var id = TransactionId.NewRandom();
            byte[] request = BindingRequest(id, extra: (ref StunMessageWriter w) => w.AddText(StunAttributeType.Software, "split"));
            foreach (byte b in request)
            {
                await stream.WriteAsync(new[] { b });
                await stream.FlushAsync();
                await Task.Delay(2);
            }

            byte[]? response = await ReadStunFromStreamAsync(stream);
            Assert.NotNull(response);
            Assert.Equal(id, Decode(response).TransactionId);
        }
    }

    /// <summary>Checklist 27, RFC 8489 §6.2.2: several messages in one segment are each answered, in order.</summary>
    [Fact]
    public async Task Rfc8489_S6_2_2_back_to_back_requests_in_one_write_are_all_answered()
    {
        var (client, stream) = await ConnectAsync(server.V4);
        using (client)
        {
            TransactionId[] ids = [TransactionId.NewRandom(), TransactionId.NewRandom(), TransactionId.NewRandom()];
            byte[] all = [.. BindingRequest(ids[0]), .. BindingRequest(ids[1], fingerprint: false), .. BindingRequest(ids[2])];
            await stream.WriteAsync(all);
            foreach (TransactionId id in ids)
            {
                byte[]? response = await ReadStunFromStreamAsync(stream);
                Assert.NotNull(response);
                Assert.Equal(id, Decode(response).TransactionId);
            }
        }
    }

    /// <summary>
    /// RFC 8656 §12.5, §5: ChannelData is framed with its padding on a stream, and without an allocation it is
    /// silently ignored; the connection stays usable.
    /// </summary>
    [Fact]
    public async Task Rfc8656_S12_5_channel_data_without_allocation_is_ignored_and_framing_continues()
    {
        var (client, stream) = await ConnectAsync(server.V4);
        using (client)
        {
            var id = TransactionId.NewRandom();
            byte[] channelData = [0x40, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0, 0]; // 5 data bytes + 3 padding
            byte[] both = [.. channelData, .. BindingRequest(id)];
            await stream.WriteAsync(both);
            byte[]? response = await ReadStunFromStreamAsync(stream);
            Assert.NotNull(response);
            Assert.Equal(id, Decode(response).TransactionId);
        }
    }

    /// <summary>
    /// Checklist 135, RFC 8489 §6.2.2, RFC 7983: once a byte that starts neither STUN nor ChannelData arrives, framing is lost and
    /// the connection is closed (and counted); other connections are unaffected.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xFF, 0x00, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x16, 0x03, 0x01, 0x00, 0x10 })]                      // TLS ClientHello on the plain port
    [InlineData(new byte[] { 0x00, 0x01, 0x00, 0x03, 0x21, 0x12, 0xA4, 0x42 })]   // STUN Length not a multiple of 4
    [InlineData(new byte[] { 0x50, 0x00, 0x00, 0x04, 1, 2, 3, 4 })]               // reserved channel range
    public async Task Rfc8489_S6_2_2_framing_error_closes_the_connection(byte[] garbage)
    {
        long before = server.TransportCounters.ConnectionsClosedFramingError;
        var (client, stream) = await ConnectAsync(server.V4);
        using (client)
        {
            await stream.WriteAsync(garbage);
            Assert.Null(await ReadStunFromStreamAsync(stream)); // end of stream: the server closed it
        }

        Assert.True(server.TransportCounters.ConnectionsClosedFramingError > before);

        var (other, otherStream) = await ConnectAsync(server.V4);
        using (other)
        {
            var id = TransactionId.NewRandom();
            await otherStream.WriteAsync(BindingRequest(id));
            byte[]? response = await ReadStunFromStreamAsync(otherStream);
            Assert.NotNull(response);
            Assert.Equal(id, Decode(response).TransactionId);
        }
    }

    /// <summary>RFC 8489 §6.3: malformed STUN inside a good frame is dropped, not answered, and the stream goes on.</summary>
    [Fact]
    public async Task Rfc8489_S6_3_malformed_message_in_a_frame_is_dropped_but_connection_stays()
    {
        var (client, stream) = await ConnectAsync(server.V4);
        using (client)
        {
            var id = TransactionId.NewRandom();
            // A frame of 20 + 8 bytes whose only attribute claims 200 bytes of value: framed fine, parses badly.
            byte[] bad = BindingRequest(TransactionId.NewRandom(), fingerprint: false, extra: (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 1));
            bad[22] = 0;
            bad[23] = 200;
            byte[] both = [.. bad, .. BindingRequest(id)];
            await stream.WriteAsync(both);
            byte[]? response = await ReadStunFromStreamAsync(stream);
            Assert.NotNull(response);
            Assert.Equal(id, Decode(response).TransactionId);
        }
    }
}

/// <summary>Idle TCP connections are closed (server option --tcp-idle-timeout).</summary>
public class TcpIdleTimeoutTests(ShortIdleServerFixture server) : IClassFixture<ShortIdleServerFixture>
{
    [Fact]
    public async Task Idle_tcp_connection_is_closed_after_the_timeout()
    {
        long before = server.TransportCounters.ConnectionsClosedIdle;
        using var client = new TcpClient(AddressFamily.InterNetwork);
        await client.ConnectAsync(server.V4);
        NetworkStream stream = client.GetStream();

        // Activity resets the timer: a request after 600 ms still gets its answer.
        await Task.Delay(600);
        var id = TransactionId.NewRandom();
        await stream.WriteAsync(BindingRequest(id));
        byte[]? response = await ReadStunFromStreamAsync(stream);
        Assert.NotNull(response);
        Assert.Equal(id, Decode(response).TransactionId);

        // Then silence: the server closes within the 1 s timeout (allowing slack for a loaded machine).
        byte[] buffer = new byte[1];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read = await stream.ReadAsync(buffer, cts.Token);
        Assert.Equal(0, read);
        Assert.True(server.TransportCounters.ConnectionsClosedIdle > before);
    }
}

/// <summary>--max-connections: TCP and TLS connections share one limit; one more is closed on arrival, a freed slot is reused.</summary>
public class ConnectionLimitTests(ConnectionLimitServerFixture server) : IClassFixture<ConnectionLimitServerFixture>
{
    [Fact]
    public async Task Connections_beyond_the_limit_are_closed_on_arrival_and_a_freed_slot_is_reused()
    {
        var tlsEndPoint = new IPEndPoint(IPAddress.Loopback, server.Services.GetRequiredService<ListenerRegistry>().TlsPort);
        long refusedBefore = server.TransportCounters.ConnectionsRefusedLimit;
        using TcpClient first = await ConnectAnsweredAsync(server.V4);
        using TcpClient second = await ConnectAnsweredAsync(server.V4);

        // A third TCP connection, and a TLS one, find no slot: the server closes them before reading anything.
        foreach (IPEndPoint endPoint in new[] { server.V4, tlsEndPoint })
        {
            Assert.True(await ClosedByServerAsync(endPoint), $"a connection to {endPoint} beyond the limit stayed open");
        }

        Assert.Equal(refusedBefore + 2, server.TransportCounters.ConnectionsRefusedLimit);

        // Closing one gives its slot back (once the server has seen the close).
        first.Close();
        TcpClient? again = null;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (again is null && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            again = await TryConnectAnsweredAsync(server.V4);
            if (again is null)
            {
                await Task.Delay(50);
            }
        }

        using (again)
        {
            Assert.NotNull(again);
        }
    }

    private static async Task<TcpClient> ConnectAnsweredAsync(IPEndPoint endPoint) =>
        await TryConnectAnsweredAsync(endPoint) ?? throw new InvalidOperationException($"no Binding answer from {endPoint}");

    /// <summary>A connection on which a Binding request is answered, or null when the server closed it.</summary>
    private static async Task<TcpClient?> TryConnectAnsweredAsync(IPEndPoint endPoint)
    {
        var client = new TcpClient(endPoint.AddressFamily);
        try
        {
            await client.ConnectAsync(endPoint);
            NetworkStream stream = client.GetStream();
            var id = TransactionId.NewRandom();
            await stream.WriteAsync(BindingRequest(id));
            byte[]? response = await ReadStunFromStreamAsync(stream);
            if (response is not null && Decode(response).TransactionId == id)
            {
                return client;
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // Reset by the server: no slot.
        }

        client.Dispose();
        return null;
    }

    /// <summary>Whether the server closes (or resets) a new connection to <paramref name="endPoint"/> without a word.</summary>
    private static async Task<bool> ClosedByServerAsync(IPEndPoint endPoint)
    {
        using var client = new TcpClient(AddressFamily.InterNetwork);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            // The reset may come so soon that the connect itself reports it.
            await client.ConnectAsync(endPoint, timeout.Token);
            return await client.GetStream().ReadAsync(new byte[1], timeout.Token) == 0;
        }
        catch (Exception ex) when (ex is IOException or SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}

/// <summary>A server that holds at most two client connections (TCP and TLS together).</summary>
public sealed class ConnectionLimitServerFixture : ServerFixture
{
    protected override IEnumerable<string> ExtraArguments => ["--max-connections", "2", "--tls-listening-port", "0"];
}

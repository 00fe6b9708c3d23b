using System.Net;
using System.Net.Sockets;
using Turn.Transports.Native;
using static Turn.Transports.Tests.Native.LoopbackUdp;

namespace Turn.Transports.Tests.Native;

/// <summary>One sendmmsg call for datagrams to many destinations (<see cref="SendBatch"/>), on real loopback sockets.</summary>
public sealed unsafe class SendBatchTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void One_flush_sends_to_several_destinations_and_each_gets_its_bytes(string ip)
    {
        IPAddress address = IPAddress.Parse(ip);
        using Socket sender = Bind(address);
        using Socket r0 = Bind(address);
        using Socket r1 = Bind(address);
        using Socket r2 = Bind(address);
        using Socket decoy = Bind(address);
        byte[] p0 = Pattern(1, 10);
        byte[] p1 = Pattern(700, 20);
        byte[] p2 = Pattern(1400, 30);
        byte[] address0 = RawAddress(EndPointOf(r0));
        byte[] address1 = RawAddress(EndPointOf(r1));
        using var batch = new SendBatch(capacity: 4);

        int sent;
        fixed (byte* d0 = p0, d1 = p1, d2 = p2, a1 = address1)
        {
            batch.Add(d0, p0.Length, address0);
            // The span overload keeps its own copy of the address: changing the caller's bytes afterwards changes nothing.
            RawAddress(EndPointOf(decoy)).CopyTo(address0, 0);
            batch.Add(d1, p1.Length, a1, (uint)address1.Length);
            batch.Add(d2, p2.Length, RawAddress(EndPointOf(r2)));
            Assert.Equal(3, batch.Count);
            Assert.False(batch.IsFull);
            sent = batch.Flush(Fd(sender));
        }

        Assert.Equal(3, sent);
        Assert.Equal(0, batch.Count);
        foreach (var (receiver, payload) in new[] { (r0, p0), (r1, p1), (r2, p2) })
        {
            var (data, from) = ReceiveOne(receiver);
            Assert.Equal(payload, data);
            Assert.Equal(EndPointOf(sender), from);
        }

        Assert.Null(Receive(decoy, Quiet));
    }

    [Fact]
    public void Flush_returns_the_count_empties_the_batch_and_the_batch_can_be_used_again()
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket receiver = Bind(IPAddress.Loopback);
        byte[] to = RawAddress(EndPointOf(receiver));
        byte[] a = Pattern(20, 1);
        byte[] b = Pattern(30, 2);
        byte[] c = Pattern(40, 3);
        using var batch = new SendBatch(capacity: 2);

        fixed (byte* da = a, db = b, dc = c)
        {
            batch.Add(da, a.Length, to);
            batch.Add(db, b.Length, to);
            Assert.True(batch.IsFull);
            Assert.Equal(2, batch.Flush(Fd(sender)));
            Assert.Equal(0, batch.Count);
            Assert.False(batch.IsFull);
            Assert.Equal(0, batch.Flush(Fd(sender)));

            batch.Add(dc, c.Length, to);
            Assert.Equal(1, batch.Flush(Fd(sender)));
        }

        Assert.Equal(a, ReceiveOne(receiver).Data);
        Assert.Equal(b, ReceiveOne(receiver).Data);
        Assert.Equal(c, ReceiveOne(receiver).Data);
        Assert.Null(Receive(receiver, Quiet)); // nothing was sent twice
    }

    [Fact]
    public void Clear_forgets_what_is_queued()
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket receiver = Bind(IPAddress.Loopback);
        byte[] payload = Pattern(20, 1);
        using var batch = new SendBatch(capacity: 2);
        fixed (byte* data = payload)
        {
            batch.Add(data, payload.Length, RawAddress(EndPointOf(receiver)));
        }

        batch.Clear();
        Assert.Equal(0, batch.Count);
        Assert.Equal(0, batch.Flush(Fd(sender)));
        Assert.Null(Receive(receiver, Quiet));
    }

    /// <summary>
    /// A datagram the kernel refuses on its own (an IPv6 sockaddr on an IPv4 socket: EAFNOSUPPORT; port 0: EINVAL) is
    /// dropped, and the datagrams queued after it still go out in the same flush.
    /// </summary>
    [Theory]
    [InlineData("ipv6-address", 0)]
    [InlineData("ipv6-address", 1)]
    [InlineData("ipv6-address", 3)]
    [InlineData("port-0", 0)]
    [InlineData("port-0", 2)]
    [InlineData("port-0", 3)]
    public void A_destination_that_fails_alone_does_not_stop_the_others(string bad, int position)
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket r0 = Bind(IPAddress.Loopback);
        using Socket r1 = Bind(IPAddress.Loopback);
        using Socket r2 = Bind(IPAddress.Loopback);
        Socket[] receivers = [r0, r1, r2];
        byte[] badAddress = bad == "port-0"
            ? RawAddress(new IPEndPoint(IPAddress.Loopback, 0))
            : RawAddress(new IPEndPoint(IPAddress.IPv6Loopback, EndPointOf(r0).Port));
        byte[][] payloads = [Pattern(50, 1), Pattern(60, 2), Pattern(70, 3), Pattern(80, 4)];
        using var batch = new SendBatch(capacity: 4);

        int sent;
        fixed (byte* d0 = payloads[0], d1 = payloads[1], d2 = payloads[2], d3 = payloads[3])
        {
            byte*[] data = [d0, d1, d2, d3];
            int good = 0;
            for (int i = 0; i < 4; i++)
            {
                byte[] to = i == position ? badAddress : RawAddress(EndPointOf(receivers[good++]));
                batch.Add(data[i], payloads[i].Length, to);
            }

            sent = batch.Flush(Fd(sender));
        }

        Assert.Equal(3, sent);
        Assert.Equal(0, batch.Count);
        int next = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i != position)
            {
                Assert.Equal(payloads[i], ReceiveOne(receivers[next++]).Data);
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Turn.Transports.Native;
using static Turn.Transports.Tests.Native.LoopbackUdp;

namespace Turn.Transports.Tests.Native;

/// <summary>
/// Runs of equal datagrams to one address leave as one UDP GSO message (<see cref="SendBatch.Segmentation"/>), and the
/// receiver still gets exactly the datagrams that were queued, one by one, in order. Real loopback sockets.
/// </summary>
public sealed unsafe class SendBatchSegmentationTests
{
    private const int SolSocket = 1;
    private const int SoNoCheck = 11;

    private static Socket Receiver(IPAddress address)
    {
        Socket socket = Bind(address);
        socket.ReceiveBufferSize = 4 << 20;
        return socket;
    }

    /// <summary>Queues every payload for its receiver on one pinned block, flushes once, returns what Flush said.</summary>
    private static int SendAll(Socket sender, SendBatch batch, IReadOnlyList<(byte[] Payload, Socket To)> datagrams)
    {
        int total = datagrams.Sum(d => d.Payload.Length);
        byte[] block = GC.AllocateArray<byte>(Math.Max(total, 1), pinned: true);
        int offset = 0;
        fixed (byte* start = block)
        {
            foreach (var (payload, to) in datagrams)
            {
                payload.CopyTo(block, offset);
                batch.Add(start + offset, payload.Length, RawAddress(EndPointOf(to)));
                offset += payload.Length;
            }

            return batch.Flush(Fd(sender));
        }
    }

    private static void AssertReceivesInOrder(Socket receiver, IEnumerable<byte[]> payloads, Socket sender)
    {
        foreach (byte[] payload in payloads)
        {
            var (data, from) = ReceiveOne(receiver);
            Assert.Equal(payload, data);
            Assert.Equal(EndPointOf(sender), from);
        }

        Assert.Null(Receive(receiver, TimeSpan.FromMilliseconds(200)));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void A_run_of_equal_datagrams_with_a_shorter_last_one_arrives_as_the_same_datagrams(string ip)
    {
        IPAddress address = IPAddress.Parse(ip);
        using Socket sender = Bind(address);
        using Socket receiver = Receiver(address);
        var payloads = Enumerable.Range(0, 20).Select(i => Pattern(100, i)).Append(Pattern(40, 99)).ToList();
        using var batch = new SendBatch(capacity: 32) { Segmentation = true };

        int sent = SendAll(sender, batch, payloads.Select(p => (p, receiver)).ToList());

        Assert.Equal(21, sent);
        Assert.Equal(21, batch.SegmentedDatagrams);
        AssertReceivesInOrder(receiver, payloads, sender);
    }

    [Fact]
    public void Runs_break_at_a_new_address_a_longer_datagram_and_after_a_shorter_one()
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket a = Receiver(IPAddress.Loopback);
        using Socket b = Receiver(IPAddress.Loopback);
        (byte[] Payload, Socket To)[] datagrams =
        [
            (Pattern(100, 1), a), (Pattern(100, 2), a), // run 1: two to a
            (Pattern(100, 3), b), (Pattern(100, 4), b), // run 2: two to b
            (Pattern(100, 5), a), (Pattern(80, 6), a),  // run 3: to a, ends with the shorter one
            (Pattern(100, 7), a),                       // alone: a run never continues past a shorter datagram
            (Pattern(200, 8), a),                       // alone: longer than the one before
        ];
        using var batch = new SendBatch(capacity: 16) { Segmentation = true };

        int sent = SendAll(sender, batch, datagrams);

        Assert.Equal(8, sent);
        Assert.Equal(6, batch.SegmentedDatagrams);
        AssertReceivesInOrder(a, datagrams.Where(d => d.To == a).Select(d => d.Payload), sender);
        AssertReceivesInOrder(b, datagrams.Where(d => d.To == b).Select(d => d.Payload), sender);
    }

    [Theory]
    [InlineData(150, 64)]   // more datagrams than one segmented send takes
    [InlineData(40, 2000)]  // more bytes than one UDP datagram can carry
    public void A_run_beyond_the_kernel_limits_is_split_and_every_datagram_arrives(int count, int size)
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket receiver = Receiver(IPAddress.Loopback);
        var payloads = Enumerable.Range(0, count).Select(i => Pattern(size, i)).ToList();
        using var batch = new SendBatch(capacity: count) { Segmentation = true };

        int sent = SendAll(sender, batch, payloads.Select(p => (p, receiver)).ToList());

        Assert.Equal(count, sent);
        Assert.Equal(count, batch.SegmentedDatagrams);
        AssertReceivesInOrder(receiver, payloads, sender);
    }

    [Fact]
    public void Without_segmentation_every_datagram_leaves_on_its_own()
    {
        using Socket sender = Bind(IPAddress.Loopback);
        using Socket receiver = Receiver(IPAddress.Loopback);
        var payloads = Enumerable.Range(0, 10).Select(i => Pattern(100, i)).ToList();
        using var batch = new SendBatch(capacity: 16);

        Assert.Equal(10, SendAll(sender, batch, payloads.Select(p => (p, receiver)).ToList()));

        Assert.Equal(0, batch.SegmentedDatagrams);
        AssertReceivesInOrder(receiver, payloads, sender);
    }

    /// <summary>
    /// A socket that sends without UDP checksums (SO_NO_CHECK) cannot segment: Linux refuses UDP_SEGMENT there with
    /// EINVAL, as it does for a route whose MTU is below the datagram size. The batch then sends the run one datagram at
    /// a time, and nothing is lost.
    /// </summary>
    [Fact]
    public void Where_the_kernel_refuses_segmentation_the_run_goes_one_by_one_and_arrives_whole()
    {
        using Socket sender = Bind(IPAddress.Loopback);
        sender.SetRawSocketOption(SolSocket, SoNoCheck, BitConverter.GetBytes(1));
        using Socket receiver = Receiver(IPAddress.Loopback);
        var payloads = Enumerable.Range(0, 12).Select(i => Pattern(100, i)).ToList();
        using var batch = new SendBatch(capacity: 16) { Segmentation = true };

        int sent = SendAll(sender, batch, payloads.Select(p => (p, receiver)).ToList());

        Assert.Equal(12, sent);
        Assert.Equal(0, batch.SegmentedDatagrams);
        AssertReceivesInOrder(receiver, payloads, sender);
        Assert.True(batch.Segmentation, "a refusal that depends on the socket or route must not turn segmentation off for good");
    }
}

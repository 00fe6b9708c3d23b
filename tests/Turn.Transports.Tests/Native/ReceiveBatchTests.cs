using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Turn.Transports.Native;
using static Turn.Transports.Tests.Native.LoopbackUdp;

namespace Turn.Transports.Tests.Native;

/// <summary>One recvmmsg call into mapped slots (<see cref="ReceiveBatch"/>), on real loopback sockets.</summary>
public sealed unsafe class ReceiveBatchTests
{
    private const int EAGAIN = 11;

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void Datagrams_queued_before_the_call_come_back_in_one_receive_with_lengths_payloads_and_senders(string ip)
    {
        IPAddress address = IPAddress.Parse(ip);
        using Socket receiver = Bind(address);
        using Socket first = Bind(address);
        using Socket second = Bind(address);
        Socket[] senders = [first, second, first, second, first];
        int[] lengths = [1, 100, 1200, 0, 1500];
        byte[][] payloads = new byte[senders.Length][];
        for (int i = 0; i < senders.Length; i++)
        {
            payloads[i] = Pattern(lengths[i], (i * 31) + 1);
            senders[i].SendTo(payloads[i], EndPointOf(receiver));
        }

        WaitQueued(receiver);
        using var batch = new ReceiveBatch(capacity: 8, headroom: 0, payloadCapacity: 2048, tailroom: 0);
        int received = batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out int errno);

        Assert.Equal(senders.Length, received);
        Assert.Equal(0, errno);
        for (int i = 0; i < received; i++)
        {
            Assert.Equal(lengths[i], batch.Length(i));
            Assert.Equal(payloads[i], batch.Payload(i).ToArray());
            Assert.False(batch.IsTruncated(i));
            Assert.Equal(AddressOf(senders[i]), batch.Sender(i));
            // The raw sockaddr is what an answer is sent to: it must be the sender's, at its family's length.
            byte[] expected = RawAddress(EndPointOf(senders[i]));
            Assert.Equal((uint)expected.Length, batch.SenderLength(i));
            Assert.Equal(expected, new ReadOnlySpan<byte>(batch.SenderPointer(i), (int)batch.SenderLength(i)).ToArray());
        }

        Assert.Equal(-1, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out errno));
        Assert.Equal(EAGAIN, errno);
    }

    [Fact]
    public void A_call_takes_at_most_capacity_datagrams_and_the_next_call_takes_the_rest_in_order()
    {
        using Socket receiver = Bind(IPAddress.Loopback);
        using Socket sender = Bind(IPAddress.Loopback);
        for (int i = 0; i < 5; i++)
        {
            sender.SendTo(Pattern(10, i), EndPointOf(receiver));
        }

        WaitQueued(receiver);
        using var batch = new ReceiveBatch(capacity: 3, headroom: 0, payloadCapacity: 64, tailroom: 0);
        Assert.Equal(3, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out _));
        Assert.Equal([0, 1, 2], Enumerable.Range(0, 3).Select(i => (int)batch.Payload(i)[0]));
        Assert.Equal(2, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out _));
        Assert.Equal([3, 4], Enumerable.Range(0, 2).Select(i => (int)batch.Payload(i)[0]));
    }

    [Fact]
    public void Empty_socket_with_dont_wait_returns_minus_one_and_EAGAIN_at_once()
    {
        using Socket receiver = Bind(IPAddress.Loopback);
        // Bounds the call should MSG_DONTWAIT be lost: it would then block for this long, and fail on the time.
        receiver.ReceiveTimeout = 3000;
        using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: 2048, tailroom: 0);

        var clock = Stopwatch.StartNew();
        int received = batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out int errno);

        Assert.Equal(-1, received);
        Assert.Equal(EAGAIN, errno);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Datagram_longer_than_the_payload_capacity_is_cut_and_reported_truncated()
    {
        const int Capacity = 64;
        const int Tailroom = 3;
        using Socket receiver = Bind(IPAddress.Loopback);
        using Socket sender = Bind(IPAddress.Loopback);
        byte[] big = Pattern(200, 5);
        byte[] small = Pattern(10, 9);
        sender.SendTo(big, EndPointOf(receiver));
        sender.SendTo(small, EndPointOf(receiver));
        WaitQueued(receiver);
        using var batch = new ReceiveBatch(capacity: 4, headroom: 0, payloadCapacity: Capacity, tailroom: Tailroom);
        batch.Slot(0).Fill(0xEE);

        Assert.Equal(2, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out _));

        Assert.True(batch.IsTruncated(0));
        Assert.Equal(Capacity, batch.Length(0));
        Assert.Equal(big[..Capacity], batch.Payload(0).ToArray());
        // The tailroom is not part of the receive buffer: a long datagram never spills into it.
        Assert.All(batch.Slot(0).Slice(Capacity, Tailroom).ToArray(), b => Assert.Equal(0xEE, b));
        Assert.False(batch.IsTruncated(1));
        Assert.Equal(small, batch.Payload(1).ToArray());
    }

    [Fact]
    public void Payload_lands_after_the_headroom_and_leaves_headroom_and_tailroom_alone()
    {
        const int Headroom = 48;
        const int Capacity = 256;
        const int Tailroom = 3;
        using Socket receiver = Bind(IPAddress.Loopback);
        using Socket sender = Bind(IPAddress.Loopback);
        byte[][] payloads = [Pattern(Capacity, 1), Pattern(17, 2)];
        foreach (byte[] payload in payloads)
        {
            sender.SendTo(payload, EndPointOf(receiver));
        }

        WaitQueued(receiver);
        using var batch = new ReceiveBatch(capacity: 2, Headroom, Capacity, Tailroom);
        Assert.Equal(Headroom, batch.Headroom);
        for (int i = 0; i < 2; i++)
        {
            Assert.True(batch.Slot(i).Length >= Headroom + Capacity + Tailroom);
            batch.Slot(i).Fill(0xEE);
        }

        Assert.Equal(2, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out _));

        for (int i = 0; i < 2; i++)
        {
            Span<byte> slot = batch.Slot(i);
            Assert.Equal(payloads[i], slot.Slice(batch.Headroom, batch.Length(i)).ToArray());
            Assert.Equal(payloads[i], batch.Payload(i).ToArray());
            Assert.All(slot[..Headroom].ToArray(), b => Assert.Equal(0xEE, b));
            Assert.All(slot.Slice(Headroom + batch.Length(i), Capacity - batch.Length(i) + Tailroom).ToArray(), b => Assert.Equal(0xEE, b));
            fixed (byte* start = slot)
            {
                Assert.True(start == batch.SlotPointer(i));
            }
        }

        // Slots do not overlap: the engine may write a slot's whole headroom and tailroom.
        Assert.True(batch.SlotPointer(1) >= batch.SlotPointer(0) + Headroom + Capacity + Tailroom);
    }

    [Fact]
    public void Contains_is_true_only_for_bytes_inside_the_slots()
    {
        using Socket receiver = Bind(IPAddress.Loopback);
        using Socket sender = Bind(IPAddress.Loopback);
        sender.SendTo(Pattern(33, 3), EndPointOf(receiver));
        WaitQueued(receiver);
        using var batch = new ReceiveBatch(capacity: 3, headroom: 8, payloadCapacity: 100, tailroom: 0);
        Assert.Equal(1, batch.Receive(Fd(receiver), LinuxSockets.MsgDontWait, out _));

        byte* first = batch.SlotPointer(0);
        byte* end = batch.SlotPointer(2) + batch.Slot(2).Length;
        fixed (byte* payload = batch.Payload(0))
        {
            Assert.True(batch.Contains(payload, batch.Length(0)));
        }

        Assert.True(batch.Contains(first, 1));
        Assert.True(batch.Contains(first, (int)(end - first)));
        Assert.True(batch.Contains(batch.SlotPointer(1) + batch.Headroom, 100));
        Assert.True(batch.Contains(end - 1, 1));
        Assert.False(batch.Contains(end, 1));
        Assert.False(batch.Contains(end - 1, 2));
        Assert.False(batch.Contains(first - 1, 1)); // the message headers and addresses in front of the slots
        Assert.False(batch.Contains(first - 1, 2));
        byte[] elsewhere = new byte[16];
        fixed (byte* managed = elsewhere)
        {
            Assert.False(batch.Contains(managed, elsewhere.Length));
        }
    }
}

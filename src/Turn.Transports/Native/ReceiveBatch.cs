using System.Runtime.InteropServices;
using Turn.Stun;

namespace Turn.Transports.Native;

/// <summary>
/// Room for one recvmmsg call: <see cref="Capacity"/> slots, each big enough for the largest UDP datagram, with
/// their message headers, iovecs and sender addresses. The memory is mapped, not allocated: a slot costs resident
/// memory only for the pages datagrams reach, so a slot sized for 64 KiB holding 1,200-byte media costs one page.
/// Used by one thread at a time; a slot's bytes stay valid until the next <see cref="Receive"/>.
/// </summary>
internal sealed unsafe class ReceiveBatch : IDisposable
{
    private const int AddressStride = 32;
    private const int SlotAlignment = 64;

    private readonly byte* _region;
    private readonly nuint _regionLength;
    private readonly MultiMessageHeader* _headers;
    private readonly byte* _addresses;
    private readonly byte* _slots;
    private readonly int _slotStride;
    private bool _disposed;

    /// <param name="capacity">Datagrams per call.</param>
    /// <param name="headroom">Bytes kept free in front of each datagram.</param>
    /// <param name="payloadCapacity">Largest datagram taken whole; longer ones are cut and reported truncated.</param>
    /// <param name="tailroom">Bytes kept free after the payload capacity.</param>
    public ReceiveBatch(int capacity, int headroom, int payloadCapacity, int tailroom)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        Headroom = headroom;
        _slotStride = (headroom + payloadCapacity + tailroom + SlotAlignment - 1) / SlotAlignment * SlotAlignment;
        int headersLength = capacity * sizeof(MultiMessageHeader);
        int vectorsLength = capacity * sizeof(IoVector);
        int addressesLength = capacity * AddressStride;
        int fixedLength = (headersLength + vectorsLength + addressesLength + 4095) / 4096 * 4096;
        _regionLength = (nuint)fixedLength + ((nuint)capacity * (nuint)_slotStride);
        _region = LinuxSockets.MapAnonymous(_regionLength);
        _headers = (MultiMessageHeader*)_region;
        var vectors = (IoVector*)(_region + headersLength);
        _addresses = _region + headersLength + vectorsLength;
        _slots = _region + fixedLength;
        for (int i = 0; i < capacity; i++)
        {
            vectors[i].Base = SlotStart(i) + headroom;
            vectors[i].Length = (nuint)payloadCapacity;
            _headers[i].Header.Name = _addresses + (i * AddressStride);
            _headers[i].Header.Vectors = vectors + i;
            _headers[i].Header.VectorCount = 1;
        }
    }

    public int Capacity { get; }

    /// <summary>Where each datagram starts in its slot.</summary>
    public int Headroom { get; }

    /// <summary>The whole of slot <paramref name="index"/>: headroom, payload capacity and tailroom.</summary>
    public Span<byte> Slot(int index) => new(SlotStart(index), _slotStride);

    /// <summary>
    /// One recvmmsg call for up to <see cref="Capacity"/> datagrams; returns how many arrived, or -1 with the error
    /// in <paramref name="errno"/>.
    /// </summary>
    public int Receive(int fd, int flags, out int errno)
    {
        for (int i = 0; i < Capacity; i++)
        {
            _headers[i].Header.NameLength = AddressStride;
            _headers[i].Header.Flags = 0;
        }

        int received = LinuxSockets.ReceiveMessages(fd, _headers, (uint)Capacity, flags, null);
        errno = received < 0 ? Marshal.GetLastPInvokeError() : 0;
        return received;
    }

    public int Length(int index) => (int)_headers[index].Length;

    /// <summary>The datagram was longer than the slot and was cut (MSG_TRUNC).</summary>
    public bool IsTruncated(int index) => (_headers[index].Header.Flags & LinuxSockets.MsgTruncated) != 0;

    public ReadOnlySpan<byte> Payload(int index) => new(SlotStart(index) + Headroom, Length(index));

    /// <summary>Pointer to the start of slot <paramref name="index"/>, for sends that take its bytes without a copy.</summary>
    public byte* SlotPointer(int index) => SlotStart(index);

    /// <summary>The sender, read from the sockaddr the kernel filled in (its family field says which form).</summary>
    public TransportAddress Sender(int index)
    {
        byte* raw = SenderPointer(index);
        bool ipv6 = *(ushort*)raw == LinuxSockets.FamilyInet6;
        return SocketAddressConversions.FromRaw(new ReadOnlySpan<byte>(raw, AddressStride), ipv6);
    }

    /// <summary>The sender's raw sockaddr and its length, to answer it with sendto/sendmmsg.</summary>
    public byte* SenderPointer(int index) => _addresses + (index * AddressStride);

    public uint SenderLength(int index) => _headers[index].Header.NameLength;

    /// <summary>Whether <paramref name="length"/> bytes at <paramref name="data"/> lie inside this batch's slots.</summary>
    public bool Contains(byte* data, int length) =>
        data >= _slots && data + length <= _slots + ((nint)Capacity * _slotStride);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            LinuxSockets.Unmap(_region, _regionLength);
        }
    }

    private byte* SlotStart(int index) => _slots + ((nint)index * _slotStride);
}

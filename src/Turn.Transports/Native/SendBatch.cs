using System.Runtime.InteropServices;

namespace Turn.Transports.Native;

/// <summary>
/// Datagrams queued for one sendmmsg call on one socket. Entries point at memory the caller keeps valid and
/// unmoved until <see cref="Flush"/> (mapped receive slots, pinned buffers). Used by one thread at a time.
/// </summary>
/// <remarks>
/// With <see cref="Segmentation"/> on, a run of datagrams to the same address with the same length (the last may be
/// shorter) leaves as one message with UDP_SEGMENT (UDP GSO, Linux 4.18): the kernel builds and routes one large
/// packet and cuts it into the datagrams late, which costs much less than sending each. The datagrams on the wire
/// are the same. Where the kernel refuses it (a device without checksum offload), segmentation turns itself off for
/// this batch and the datagrams go one by one.
/// </remarks>
internal sealed unsafe class SendBatch : IDisposable
{
    /// <summary>Most datagrams the kernel takes in one segmented send (UDP_MAX_SEGMENTS in older kernels).</summary>
    public const int MaxSegments = 64;

    private const int AddressStride = 32;

    /// <summary>CMSG_SPACE(sizeof(uint16)) on 64-bit Linux: a 16-byte cmsghdr and the value, padded to 8.</summary>
    private const int ControlStride = 24;

    /// <summary>A segmented send stays below the 64 KiB limit of one UDP datagram.</summary>
    private const int MaxSegmentedBytes = 60000;

    private const int SolUdp = 17;
    private const int UdpSegment = 103;

    private const int ErrorIo = 5;
    private const int ErrorNoProtocolOption = 92;
    private const int ErrorNotSupported = 95;

    private readonly MultiMessageHeader* _headers;
    private readonly IoVector* _vectors;
    private readonly byte** _names;
    private readonly uint* _nameLengths;
    private readonly int* _datagramsPerMessage;
    private readonly byte* _addresses;
    private readonly byte* _controls;
    private bool _disposed;

    public SendBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        nuint count = (nuint)capacity;
        _headers = (MultiMessageHeader*)NativeMemory.AllocZeroed(count, (nuint)sizeof(MultiMessageHeader));
        _vectors = (IoVector*)NativeMemory.AllocZeroed(count, (nuint)sizeof(IoVector));
        _names = (byte**)NativeMemory.AllocZeroed(count, (nuint)sizeof(byte*));
        _nameLengths = (uint*)NativeMemory.AllocZeroed(count, sizeof(uint));
        _datagramsPerMessage = (int*)NativeMemory.AllocZeroed(count, sizeof(int));
        _addresses = (byte*)NativeMemory.AllocZeroed(count, AddressStride);
        _controls = (byte*)NativeMemory.AllocZeroed(count, ControlStride);
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    /// <summary>Send runs of equal datagrams to one address as one UDP GSO message (see remarks).</summary>
    public bool Segmentation { get; set; }

    /// <summary>Datagrams this batch has sent inside segmented (UDP GSO) messages, over its life.</summary>
    public long SegmentedDatagrams { get; private set; }

    public void Add(byte* data, int length, byte* address, uint addressLength)
    {
        _vectors[Count].Base = data;
        _vectors[Count].Length = (nuint)length;
        _names[Count] = address;
        _nameLengths[Count] = addressLength;
        Count++;
    }

    /// <summary>As above, with a copy of the destination address kept in the batch.</summary>
    public void Add(byte* data, int length, ReadOnlySpan<byte> address)
    {
        byte* copy = _addresses + (Count * AddressStride);
        address.CopyTo(new Span<byte>(copy, AddressStride));
        Add(data, length, copy, (uint)address.Length);
    }

    /// <summary>Forgets what is queued without sending it.</summary>
    public void Clear() => Count = 0;

    /// <summary>
    /// Sends everything queued with as few calls as the kernel allows, without blocking, and empties the batch.
    /// Returns how many datagrams went out; the rest were dropped (full buffer, or an error for that datagram).
    /// </summary>
    public int Flush(int fd)
    {
        int count = Count;
        Count = 0;
        int sent = 0;
        int next = 0;
        while (next < count)
        {
            int messages = BuildMessages(next, count);
            int done = 0;
            bool retry = false;
            int triesPastIcmp = 0;
            while (done < messages)
            {
                int result = LinuxSockets.SendMessages(fd, _headers + done, (uint)(messages - done), LinuxSockets.MsgDontWait | LinuxSockets.MsgNoSignal);
                if (result > 0)
                {
                    for (int m = done; m < done + result; m++)
                    {
                        int datagrams = _datagramsPerMessage[m];
                        sent += datagrams;
                        next += datagrams;
                        if (datagrams > 1)
                        {
                            SegmentedDatagrams += datagrams;
                        }
                    }

                    done += result;
                    triesPastIcmp = 0;
                    continue;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == LinuxSockets.ErrorInterrupted)
                {
                    continue;
                }

                if (errno is LinuxSockets.ErrorWouldBlock or LinuxSockets.ErrorNoBuffers or LinuxSockets.ErrorBadDescriptor)
                {
                    // The socket's buffer is full (or it is gone): the rest of the batch would fail the same way.
                    return sent;
                }

                if (_datagramsPerMessage[done] > 1)
                {
                    // The kernel would not segment this one (device, route MTU...): from here on, one by one.
                    if (errno is ErrorIo or ErrorNotSupported or ErrorNoProtocolOption)
                    {
                        Segmentation = false;
                    }

                    retry = true;
                    break;
                }

                if (triesPastIcmp < LinuxSockets.TriesPastIcmpError(errno))
                {
                    // An error an ICMP report left on the socket, not this datagram's: the failed call cleared it.
                    triesPastIcmp++;
                    continue;
                }

                // This one datagram failed (e.g. no route to its address); the others may still go.
                triesPastIcmp = 0;
                next += _datagramsPerMessage[done];
                done++;
            }

            if (retry)
            {
                sent += SendOneByOne(fd, next, RunEnd(next, count));
                next = RunEnd(next, count);
            }
        }

        return sent;
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            NativeMemory.Free(_headers);
            NativeMemory.Free(_vectors);
            NativeMemory.Free(_names);
            NativeMemory.Free(_nameLengths);
            NativeMemory.Free(_datagramsPerMessage);
            NativeMemory.Free(_addresses);
            NativeMemory.Free(_controls);
        }
    }

    /// <summary>Fills the message headers for datagrams [first, count); returns how many messages.</summary>
    private int BuildMessages(int first, int count)
    {
        int messages = 0;
        for (int i = first; i < count;)
        {
            int run = Segmentation ? RunEnd(i, count) - i : 1;
            ref MessageHeader header = ref _headers[messages].Header;
            header.Name = _names[i];
            header.NameLength = _nameLengths[i];
            header.Vectors = _vectors + i;
            header.VectorCount = (nuint)run;
            header.Flags = 0;
            if (run > 1)
            {
                byte* control = _controls + (messages * ControlStride);
                *(nuint*)control = 16 + sizeof(ushort);
                *(int*)(control + 8) = SolUdp;
                *(int*)(control + 12) = UdpSegment;
                *(ushort*)(control + 16) = (ushort)_vectors[i].Length;
                header.Control = control;
                header.ControlLength = ControlStride;
            }
            else
            {
                header.Control = null;
                header.ControlLength = 0;
            }

            _datagramsPerMessage[messages] = run;
            messages++;
            i += run;
        }

        return messages;
    }

    /// <summary>
    /// The end of the run that starts at <paramref name="first"/>: following datagrams to the same address with the
    /// same length, where the last one may be shorter, within the kernel's limits.
    /// </summary>
    private int RunEnd(int first, int count)
    {
        nuint size = _vectors[first].Length;
        if (size == 0)
        {
            return first + 1;
        }

        int limit = Math.Min(MaxSegments, (int)(MaxSegmentedBytes / size));
        int end = first + 1;
        while (end < count && end - first < limit && _vectors[end].Length <= size && _vectors[end].Length > 0 && SameAddress(first, end))
        {
            bool shorter = _vectors[end].Length < size;
            end++;
            if (shorter)
            {
                break;
            }
        }

        return end;
    }

    private bool SameAddress(int a, int b) =>
        _names[a] == _names[b]
        || (_nameLengths[a] == _nameLengths[b]
            && new ReadOnlySpan<byte>(_names[a], (int)_nameLengths[a]).SequenceEqual(new ReadOnlySpan<byte>(_names[b], (int)_nameLengths[b])));

    private int SendOneByOne(int fd, int first, int end)
    {
        int sent = 0;
        for (int i = first; i < end; i++)
        {
            nint result = LinuxSockets.SendToPastIcmpErrors(fd, _vectors[i].Base, _vectors[i].Length, LinuxSockets.MsgDontWait | LinuxSockets.MsgNoSignal,
                _names[i], _nameLengths[i]);
            if (result >= 0)
            {
                sent++;
            }
        }

        return sent;
    }
}

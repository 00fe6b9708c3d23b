using System.Runtime.InteropServices;

namespace Turn.Transports.Native;

/// <summary>
/// Datagrams queued for one sendmmsg call on one socket. Entries point at memory the caller keeps valid and
/// unmoved until <see cref="Flush"/> (mapped receive slots, pinned buffers). Used by one thread at a time.
/// </summary>
internal sealed unsafe class SendBatch : IDisposable
{
    private const int AddressStride = 32;

    private readonly MultiMessageHeader* _headers;
    private readonly IoVector* _vectors;
    private readonly byte* _addresses;
    private bool _disposed;

    public SendBatch(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _headers = (MultiMessageHeader*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(MultiMessageHeader));
        _vectors = (IoVector*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(IoVector));
        _addresses = (byte*)NativeMemory.AllocZeroed((nuint)capacity, AddressStride);
        for (int i = 0; i < capacity; i++)
        {
            _headers[i].Header.Vectors = _vectors + i;
            _headers[i].Header.VectorCount = 1;
        }
    }

    public int Capacity { get; }

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    public void Add(byte* data, int length, byte* address, uint addressLength)
    {
        _vectors[Count].Base = data;
        _vectors[Count].Length = (nuint)length;
        _headers[Count].Header.Name = address;
        _headers[Count].Header.NameLength = addressLength;
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
        int done = 0;
        int sent = 0;
        while (done < count)
        {
            int result = LinuxSockets.SendMessages(fd, _headers + done, (uint)(count - done), LinuxSockets.MsgDontWait | LinuxSockets.MsgNoSignal);
            if (result > 0)
            {
                done += result;
                sent += result;
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
                break;
            }

            // This one datagram failed (e.g. no route to its address); the others may still go.
            done++;
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
            NativeMemory.Free(_addresses);
        }
    }
}

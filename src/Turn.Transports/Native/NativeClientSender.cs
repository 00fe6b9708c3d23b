using System.Net.Sockets;
using System.Runtime.InteropServices;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Native;

/// <summary>
/// Sends to one UDP client from the listening socket it talks to (RFC 8656 §11.3, §12.5), with sendto or, for a
/// burst from a relay socket, one sendmmsg. Never blocks: a full socket buffer drops the datagram.
/// </summary>
internal sealed unsafe class NativeClientSender : IClientSender
{
    private readonly SafeSocketHandle _listener;
    private readonly byte[] _address = new byte[28];
    private readonly int _addressLength;
    private readonly TransportCounters _counters;

    public NativeClientSender(Socket listener, in TransportAddress client, TransportCounters counters)
    {
        _listener = listener.SafeHandle;
        _addressLength = SocketAddressConversions.WriteRaw(_address, client, listener.AddressFamily);
        _counters = counters;
    }

    /// <summary>The client's sockaddr.</summary>
    public ReadOnlySpan<byte> Address => _address.AsSpan(0, _addressLength);

    public void Send(ReadOnlySpan<byte> message)
    {
        bool added = false;
        try
        {
            _listener.DangerousAddRef(ref added);
            nint sent;
            fixed (byte* data = message)
            fixed (byte* address = _address)
            {
                sent = LinuxSockets.SendTo((int)_listener.DangerousGetHandle(), data, (nuint)message.Length,
                    LinuxSockets.MsgDontWait | LinuxSockets.MsgNoSignal, address, (uint)_addressLength);
            }

            if (sent >= 0)
            {
                _counters.CountDatagramSent();
            }
            else
            {
                _counters.CountSendError();
            }
        }
        catch (ObjectDisposedException)
        {
            // The listener is shutting down.
        }
        finally
        {
            if (added)
            {
                _listener.DangerousRelease();
            }
        }
    }

    /// <summary>Sends what <paramref name="batch"/> holds (all for this client) with sendmmsg.</summary>
    public void Flush(SendBatch batch)
    {
        int count = batch.Count;
        bool added = false;
        try
        {
            _listener.DangerousAddRef(ref added);
            int sent = batch.Flush((int)_listener.DangerousGetHandle());
            _counters.CountDatagramsSent(sent);
            if (sent < count)
            {
                _counters.CountSendErrors(count - sent);
            }
        }
        catch (ObjectDisposedException)
        {
            batch.Clear();
        }
        finally
        {
            if (added)
            {
                _listener.DangerousRelease();
            }
        }
    }
}

using System.Net;
using System.Net.Sockets;
using Turn.Relay.Allocations;

namespace Turn.Transports;

/// <summary>Sends to one UDP client from the listening socket it talks to (RFC 8656 §11.3, §12.5: on the allocation's 5-tuple).</summary>
internal sealed class UdpClientSender : IClientSender
{
    private readonly Socket _socket;
    private readonly SocketAddress _client;
    private readonly TransportCounters _counters;

    public UdpClientSender(Socket socket, SocketAddress client, TransportCounters counters)
    {
        _socket = socket;
        _client = client;
        _counters = counters;
    }

    public void Send(ReadOnlySpan<byte> message)
    {
        try
        {
            _socket.SendTo(message, SocketFlags.None, _client);
            _counters.CountDatagramSent();
        }
        catch (SocketException)
        {
            _counters.CountSendError();
        }
        catch (ObjectDisposedException)
        {
            // The listener is shutting down.
        }
    }
}

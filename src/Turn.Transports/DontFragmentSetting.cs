using System.Net.Sockets;

namespace Turn.Transports;

/// <summary>
/// The DF bit of one relay socket (RFC 8656 §7.2 item 4, §11.2, §14): set for good when the Allocate carried
/// DONT-FRAGMENT, or around one datagram for a Send indication that carries it. IPv6 has no DF bit to set (it never
/// fragments in the network), so nothing changes there.
/// </summary>
internal sealed class DontFragmentSetting(Socket socket)
{
    private bool _always;

    /// <summary>RFC 8656 §7.2 item 4: DF on everything the socket sends.</summary>
    public void SetAlways(bool enabled)
    {
        if (socket.AddressFamily == AddressFamily.InterNetwork)
        {
            socket.DontFragment = enabled;
            _always = enabled;
        }
    }

    /// <summary>Whether one datagram asking for DF needs the option turned on around it (and off again after).</summary>
    public bool NeedsToggle(bool dontFragment) => dontFragment && !_always && socket.AddressFamily == AddressFamily.InterNetwork;

    public void TurnOn() => socket.DontFragment = true;

    /// <summary>Back to the allocation's setting after one datagram; the socket may have closed meanwhile.</summary>
    public void TurnOff()
    {
        try
        {
            socket.DontFragment = false;
        }
        catch (ObjectDisposedException)
        {
        }
    }
}

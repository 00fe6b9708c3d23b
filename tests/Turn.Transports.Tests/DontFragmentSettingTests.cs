using System.Net;
using System.Net.Sockets;

namespace Turn.Transports.Tests;

/// <summary>
/// RFC 8656 §7.2 item 4, §11.2, §14 (checklist 63, 100, 121): DONT-FRAGMENT sets the DF bit on the relay socket
/// (IP_MTU_DISCOVER on Linux), for good or around one datagram; IPv6 sockets have no DF bit and are left alone.
/// </summary>
public class DontFragmentSettingTests
{
    [Fact]
    public void Rfc8656_S14_dont_fragment_sets_and_clears_df_on_an_ipv4_socket()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var setting = new DontFragmentSetting(socket);
        Assert.False(socket.DontFragment);

        Assert.True(setting.NeedsToggle(true));
        setting.TurnOn();
        Assert.True(socket.DontFragment);
        setting.TurnOff();
        Assert.False(socket.DontFragment);

        setting.SetAlways(true);
        Assert.True(socket.DontFragment);
        Assert.False(setting.NeedsToggle(true));
        setting.SetAlways(false);
        Assert.False(socket.DontFragment);
    }

    [Fact]
    public void Rfc8656_S14_ipv6_sockets_are_left_alone()
    {
        using var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var setting = new DontFragmentSetting(socket);
        setting.SetAlways(true);
        Assert.False(setting.NeedsToggle(true));
    }
}

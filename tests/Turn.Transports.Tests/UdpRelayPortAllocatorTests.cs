using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports.Tests;

/// <summary>Relay ports on real loopback sockets (RFC 8656 §7.2, §18.7, §18.10; RFC 6056 random choice).</summary>
public sealed class UdpRelayPortAllocatorTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (IDisposable item in _owned)
        {
            item.Dispose();
        }
    }

    /// <summary>A range of free consecutive ports on 127.0.0.1 (checked by binding them briefly).</summary>
    private static (int Min, int Max) FreeRange(int count)
    {
        var random = new Random();
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int min = random.Next(20000, 60000) & ~1;
            var sockets = new List<Socket>();
            try
            {
                for (int port = min; port < min + count; port++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    sockets.Add(socket);
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                }

                return (min, min + count - 1);
            }
            catch (SocketException)
            {
            }
            finally
            {
                sockets.ForEach(s => s.Dispose());
            }
        }

        throw new InvalidOperationException("no free port range");
    }

    private UdpRelayPortAllocator Allocator(int min, int max)
    {
        var allocator = new UdpRelayPortAllocator(IPAddress.Loopback, min, max, new TransportCounters(), _time, NullLogger.Instance);
        _owned.Add(allocator);
        return allocator;
    }

    private IRelayEndpoint Keep(IRelayEndpoint endpoint)
    {
        _owned.Add(endpoint);
        return endpoint;
    }

    /// <summary>Checklist 76, RFC 8656 §6, §7.2: relay ports come from the range, each relayed address unique, until it is exhausted.</summary>
    [Fact]
    public void Rfc8656_S7_2_ports_come_from_the_range_until_it_is_exhausted()
    {
        var (min, max) = FreeRange(4);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        var ports = new HashSet<int>();
        for (int i = 0; i < 4; i++)
        {
            RelayPortGrant? grant = allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, false, false));
            Assert.NotNull(grant);
            IRelayEndpoint endpoint = Keep(grant.Value.Endpoint);
            Assert.Equal(IPAddress.Loopback, endpoint.LocalAddress.ToIPAddress());
            Assert.InRange(endpoint.LocalAddress.Port, min, max);
            Assert.True(ports.Add(endpoint.LocalAddress.Port), "every relayed address is unique (RFC 8656 §6)");
        }

        Assert.Null(allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, false, false)));
        Assert.Equal(4, allocator.PortsInUse);

        // Closing an allocation's endpoint gives its port back.
        _owned[^1].Dispose();
        Assert.Equal(3, allocator.PortsInUse);
        Assert.NotNull(allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, false, false)));
    }

    /// <summary>
    /// Checklist 75, 133, RFC 8656 §7.2, §21.1.7, RFC 6056: relay ports are picked at random within the range, not
    /// handed out in order, so the next relayed address cannot be guessed from the last one.
    /// </summary>
    [Fact]
    public void Rfc8656_S7_2_relay_ports_are_picked_at_random()
    {
        var (min, max) = FreeRange(200);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        var ports = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            IRelayEndpoint endpoint = Keep(allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, false, false))!.Value.Endpoint);
            Assert.InRange(endpoint.LocalAddress.Port, min, max);
            ports.Add(endpoint.LocalAddress.Port);
        }

        Assert.Equal(ports.Count, ports.Distinct().Count());
        // In order would be ascending (twelve random picks come out ascending once in 12! tries).
        Assert.False(ports.Zip(ports.Skip(1)).All(p => p.First < p.Second), $"ports handed out in order: {string.Join(", ", ports)}");
    }

    [Fact]
    public void Rfc8656_S7_2_other_family_is_not_supported()
    {
        var (min, max) = FreeRange(2);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        Assert.False(allocator.Supports(StunAddressFamily.IPv6));
        Assert.Null(allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv6, false, false)));
    }

    /// <summary>RFC 8656 §7.2, §18.7: EVEN-PORT gets an even port; R=1 also reserves the next one under a token.</summary>
    [Fact]
    public void Rfc8656_S18_7_even_port_and_reservation_of_the_next()
    {
        var (min, max) = FreeRange(6);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        RelayPortGrant grant = allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, true, true))!.Value;
        IRelayEndpoint even = Keep(grant.Endpoint);
        Assert.Equal(0, even.LocalAddress.Port % 2);
        Assert.NotNull(grant.ReservationToken);
        Assert.Equal(2, allocator.PortsInUse);

        IRelayEndpoint? reserved = allocator.TryClaimReservation(grant.ReservationToken!.Value);
        Assert.NotNull(reserved);
        Keep(reserved);
        Assert.Equal(even.LocalAddress.Port + 1, reserved.LocalAddress.Port);
        Assert.Null(allocator.TryClaimReservation(grant.ReservationToken.Value));
    }

    /// <summary>RFC 8656 §7.2: a reservation is held at least 30 s, then released if nobody claims it.</summary>
    [Fact]
    public void Rfc8656_S7_2_unclaimed_reservation_is_released_after_30_seconds()
    {
        var (min, max) = FreeRange(4);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        RelayPortGrant grant = allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, true, true))!.Value;
        Keep(grant.Endpoint);
        _time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(0, allocator.SweepReservations());
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, allocator.SweepReservations());
        Assert.Equal(1, allocator.PortsInUse);
        Assert.Null(allocator.TryClaimReservation(grant.ReservationToken!.Value));
    }

    /// <summary>An expired token cannot be claimed even before the sweep runs.</summary>
    [Fact]
    public void Rfc8656_S7_2_expired_token_is_refused_before_the_sweep()
    {
        var (min, max) = FreeRange(4);
        UdpRelayPortAllocator allocator = Allocator(min, max);
        RelayPortGrant grant = allocator.TryAllocate(new RelayPortRequest(StunAddressFamily.IPv4, true, true))!.Value;
        Keep(grant.Endpoint);
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(allocator.TryClaimReservation(grant.ReservationToken!.Value));
        Assert.Equal(1, allocator.PortsInUse);
    }
}

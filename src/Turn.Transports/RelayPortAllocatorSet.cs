using System.Net;
using Turn.Relay.Allocations;
using Turn.Stun;

namespace Turn.Transports;

/// <summary>
/// The server's relay addresses, at most one per family (RFC 8656 §7.2 items 7 and 9: REQUESTED-ADDRESS-FAMILY picks
/// one, ADDITIONAL-ADDRESS-FAMILY asks for both). Each family's ports come from its own <see cref="UdpRelayPortAllocator"/>;
/// a reservation token is looked up in each.
/// </summary>
public sealed class RelayPortAllocatorSet : IRelayPortAllocator, IDisposable
{
    private readonly UdpRelayPortAllocator[] _allocators;

    public RelayPortAllocatorSet(IEnumerable<UdpRelayPortAllocator> allocators)
    {
        ArgumentNullException.ThrowIfNull(allocators);
        _allocators = [.. allocators];
        if (_allocators.Length == 0)
        {
            throw new ArgumentException("At least one relay address is needed.", nameof(allocators));
        }

        if (_allocators.Select(a => a.Family).Distinct().Count() != _allocators.Length)
        {
            throw new ArgumentException("At most one relay address per address family.", nameof(allocators));
        }
    }

    /// <summary>The addresses relay sockets bind to, the first one first.</summary>
    public IReadOnlyList<IPAddress> Addresses => [.. _allocators.Select(a => a.Address)];

    /// <summary>The relay address of <paramref name="family"/>, or null when the server relays none of it.</summary>
    public IPAddress? AddressOf(StunAddressFamily family) => Find(family)?.Address;

    /// <summary>Relay ports held now, allocations and reservations together, over every address.</summary>
    public int PortsInUse => _allocators.Sum(a => a.PortsInUse);

    public bool Supports(StunAddressFamily family) => Find(family) is not null;

    public bool SupportsTcp => _allocators.Any(a => a.SupportsTcp);

    public ITcpRelayEndpoint? TryAllocateTcp(StunAddressFamily family) => Find(family)?.TryAllocateTcp(family);

    /// <summary>TCP relay ports held now, over every address.</summary>
    public int TcpPortsInUse => _allocators.Sum(a => a.TcpPortsInUse);

    public RelayPortGrant? TryAllocate(RelayPortRequest request) => Find(request.Family)?.TryAllocate(request);

    public IRelayEndpoint? TryClaimReservation(ulong token)
    {
        foreach (UdpRelayPortAllocator allocator in _allocators)
        {
            if (allocator.TryClaimReservation(token) is { } endpoint)
            {
                return endpoint;
            }
        }

        return null;
    }

    /// <summary>Releases reservations nobody claimed in time.</summary>
    public int SweepReservations() => _allocators.Sum(a => a.SweepReservations());

    public void Dispose()
    {
        foreach (UdpRelayPortAllocator allocator in _allocators)
        {
            allocator.Dispose();
        }
    }

    private UdpRelayPortAllocator? Find(StunAddressFamily family)
    {
        foreach (UdpRelayPortAllocator allocator in _allocators)
        {
            if (allocator.Family == family)
            {
                return allocator;
            }
        }

        return null;
    }
}

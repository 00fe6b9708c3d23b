using Microsoft.Extensions.Hosting;
using Turn.Relay;
using Turn.Relay.Allocations;
using Turn.Transports;

namespace Turn.Server;

/// <summary>
/// Once a second, removes expired allocations (closing their relay sockets), expired permissions and channels,
/// unclaimed port reservations, and TCP peer connections nobody bound in time (RFC 6062). The relay path checks expiry
/// itself on every packet, so this only frees memory and ports; it never decides whether a packet passes.
/// </summary>
internal sealed class ExpirySweeper(AllocationTable allocations, RelayPortAllocatorSet ports, StunMessageProcessor processor, TimeProvider time)
    : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                long now = time.GetTimestamp();
                allocations.Sweep(now);
                ports.SweepReservations();
                processor.SweepPendingTcpConnections(now);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        allocations.Clear();
    }
}

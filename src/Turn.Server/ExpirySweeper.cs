using Microsoft.Extensions.Hosting;
using Turn.Relay.Allocations;
using Turn.Transports;

namespace Turn.Server;

/// <summary>
/// Once a second, removes expired allocations (closing their relay sockets), expired permissions and channels,
/// and unclaimed port reservations. The relay path checks expiry itself on every packet, so this only frees memory
/// and ports; it never decides whether a packet passes.
/// </summary>
internal sealed class ExpirySweeper(AllocationTable allocations, RelayPortAllocatorSet ports, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                allocations.Sweep(time.GetTimestamp());
                ports.SweepReservations();
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

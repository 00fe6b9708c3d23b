using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Turn.Relay;
using Turn.Relay.Allocations;

namespace Turn.Server;

/// <summary>
/// Graceful drain (SIGTERM, or POST /drain on the admin listener): readiness turns false, new Allocate requests are
/// refused (300 to an alternate server, else 508), and existing allocations keep relaying and refreshing. The server
/// stops once the last allocation is gone, or when the drain timeout (--drain-timeout) has passed, whichever comes
/// first.
/// </summary>
public sealed partial class DrainCoordinator(StunMessageProcessor processor, AllocationTable allocations, IHostApplicationLifetime lifetime,
    IOptions<TurnServerOptions> options, TimeProvider time, ILogger<DrainCoordinator> logger) : IDisposable
{
    /// <summary>How often the drain checks whether allocations are left.</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(250);

    private readonly CancellationTokenSource _stop = new();
    private int _started;
    private Task _watch = Task.CompletedTask;

    public bool IsDraining => Volatile.Read(ref _started) != 0;

    /// <summary>Starts the drain once (later calls do nothing); <paramref name="trigger"/> is for the log.</summary>
    public void Begin(string trigger)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            return;
        }

        processor.Draining = true;
        TimeSpan timeout = TimeSpan.FromSeconds(options.Value.DrainTimeoutSeconds);
        DrainStarted(logger, trigger, allocations.Count, (long)timeout.TotalSeconds);
        _watch = WatchAsync(timeout);
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }

    private async Task WatchAsync(TimeSpan timeout)
    {
        long started = time.GetTimestamp();
        try
        {
            using var timer = new PeriodicTimer(CheckInterval, time);
            while (allocations.Count > 0 && time.GetElapsedTime(started) < timeout)
            {
                if (!await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return;
        }

        int left = allocations.Count;
        DrainFinished(logger, left == 0 ? "the last allocation is gone" : "the drain timeout passed", left);
        lifetime.StopApplication();
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning,
        Message = "Draining ({Trigger}): not ready, no new allocations; {Allocations} allocations left, stopping when none are or after {TimeoutSeconds} s")]
    private static partial void DrainStarted(ILogger logger, string trigger, int allocations, long timeoutSeconds);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Drain finished: {Why} ({Allocations} allocations left); stopping")]
    private static partial void DrainFinished(ILogger logger, string why, int allocations);
}

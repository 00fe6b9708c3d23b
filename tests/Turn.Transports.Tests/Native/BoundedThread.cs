namespace Turn.Transports.Tests.Native;

/// <summary>
/// Runs an action on a thread of its own and waits a bounded time for it, so a call that hangs (a deadlock) fails the
/// test instead of hanging the run. A hung thread is a background thread and does not keep the process alive.
/// </summary>
internal static class BoundedThread
{
    public static void Run(string what, Action action) => Run(what, action, LoopbackUdp.WaitLimit);

    public static void Run(string what, Action action, TimeSpan timeout)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                action();
            }
#pragma warning disable CA1031 // Handed back to the test thread, which rethrows it.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = "bounded test thread",
        };
        thread.Start();
        Assert.True(thread.Join(timeout), $"{what} did not return within {timeout.TotalSeconds} s");
        if (failure is not null)
        {
            throw new InvalidOperationException($"{what} threw", failure);
        }
    }
}

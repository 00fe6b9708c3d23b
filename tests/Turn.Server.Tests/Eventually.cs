using System.Diagnostics;

namespace Turn.Server.Tests;

/// <summary>Waits, polling, for something the server does in the background (bounded: 10 s by default).</summary>
internal static class Eventually
{
    public static async Task WaitForAsync(Func<bool> condition, string failure, TimeSpan? limit = null)
    {
        var watch = Stopwatch.StartNew();
        TimeSpan until = limit ?? TimeSpan.FromSeconds(10);
        while (!condition() && watch.Elapsed < until)
        {
            await Task.Delay(20);
        }

        Assert.True(condition(), failure);
    }

    /// <summary>As above, for a condition that has to ask over the network.</summary>
    public static async Task WaitForAsync(Func<Task<bool>> condition, string failure, TimeSpan? limit = null)
    {
        var watch = Stopwatch.StartNew();
        TimeSpan until = limit ?? TimeSpan.FromSeconds(10);
        while (!await condition() && watch.Elapsed < until)
        {
            await Task.Delay(20);
        }

        Assert.True(await condition(), failure);
    }
}

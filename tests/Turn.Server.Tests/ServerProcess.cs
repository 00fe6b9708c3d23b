using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Turn.Server.Tests;

/// <summary>Starts the real turn-server executable as a process and reads what it prints.</summary>
internal static class ServerProcess
{
    private static string ServerDll => Path.Combine(AppContext.BaseDirectory, "turn-server.dll");

    public static Process Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, string? ignoredSignal = null)
    {
        // With ignoredSignal, started the way nohup starts it: the signal ignored, which the process inherits.
        var info = new ProcessStartInfo(ignoredSignal is null ? "dotnet" : "/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (ignoredSignal is not null)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"trap '' {ignoredSignal}; exec dotnet \"$@\"");
            info.ArgumentList.Add("sh");
        }

        info.ArgumentList.Add(ServerDll);
        foreach (string arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return Process.Start(info)!;
    }

    /// <summary>Runs the executable to its end (at most a minute) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> RunToEndAsync(params string[] args)
    {
        using Process process = Start(args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            // A server that was expected to exit but kept running is stopped, not left behind holding its ports.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Reads standard output until a line contains <paramref name="text"/>, then drains the rest in the background.</summary>
    public static async Task<IReadOnlyList<string>> WaitForLineAsync(Process process, string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var lines = new List<string>();
        while (true)
        {
            string? line = await process.StandardOutput.ReadLineAsync(cts.Token);
            if (line is null)
            {
                Assert.Fail($"the server exited before printing '{text}': {await process.StandardError.ReadToEndAsync()}");
            }

            lines.Add(line);
            if (line.Contains(text, StringComparison.Ordinal))
            {
                _ = DrainAsync(process.StandardOutput);
                return lines;
            }
        }
    }

    /// <summary>Stops a started server and waits for it to end.</summary>
    public static async Task StopAsync(Process process)
    {
        process.Kill(entireProcessTree: true);
        await process.WaitForExitAsync();
    }

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 right now.</summary>
    public static int FreePort()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
            }
        }

        throw new InvalidOperationException("no free port");
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is not null)
        {
        }
    }
}

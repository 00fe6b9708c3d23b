using System.Diagnostics;
using System.Net.Sockets;

namespace Turn.Server.Tests;

/// <summary>
/// A real redis-server (Debian package redis-server) on a free loopback port for the cluster tests: no persistence,
/// loopback only, stopped by its process id.
/// </summary>
internal sealed class RedisServer : IDisposable
{
    private Process? _process;

    private RedisServer(int port)
    {
        Port = port;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Starts one and waits until it takes connections.</summary>
    public static async Task<RedisServer> StartAsync(int? port = null)
    {
        var server = new RedisServer(port ?? ServerProcess.FreePort());
        await server.StartProcessAsync();
        return server;
    }

    /// <summary>Starts it again on the same port (after <see cref="Stop"/>).</summary>
    public Task RestartAsync() => StartProcessAsync();

    public void Stop()
    {
        Process? process = Interlocked.Exchange(ref _process, null);
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill();
            process.WaitForExit(5000);
        }

        process.Dispose();
    }

    public void Dispose() => Stop();

    private async Task StartProcessAsync()
    {
        string executable = File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server";
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--protected-mode", "yes" })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start (install the redis-server package)");
        _ = _process.StandardOutput.ReadToEndAsync();
        _ = _process.StandardError.ReadToEndAsync();
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, Port);
                NetworkStream stream = client.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray());
                byte[] reply = new byte[7];
                int read = await stream.ReadAsync(reply);
                if (read >= 5 && System.Text.Encoding.ASCII.GetString(reply, 0, 5) == "+PONG")
                {
                    return;
                }
            }
            catch (SocketException)
            {
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"redis-server did not answer on 127.0.0.1:{Port} within 15 s");
    }
}

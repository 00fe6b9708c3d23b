using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>The real executable, started as a process: exit codes, messages, environment configuration.</summary>
public class ServerProcessTests
{
    private static string ServerDll => Path.Combine(AppContext.BaseDirectory, "turn-server.dll");

    private static Process Start(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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

    private static async Task<(int ExitCode, string Out, string Err)> RunToEndAsync(params string[] args)
    {
        using Process process = Start(args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Unknown_flag_exits_non_zero_naming_the_flag()
    {
        var (exitCode, _, err) = await RunToEndAsync("--listening-port", "3478", "--frobnicate");
        Assert.NotEqual(0, exitCode);
        Assert.Contains("'--frobnicate'", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_exits_zero_and_lists_the_flags()
    {
        var (exitCode, output, _) = await RunToEndAsync("--help");
        Assert.Equal(0, exitCode);
        Assert.Contains("--listening-port", output, StringComparison.Ordinal);
        Assert.Contains("--no-tcp", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_configuration_exits_non_zero_naming_the_key()
    {
        var (exitCode, _, err) = await RunToEndAsync("--listening-port", "70000");
        Assert.Equal(1, exitCode);
        Assert.Contains("Turn:ListeningPort", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_numeric_port_exits_non_zero_naming_the_key()
    {
        var (exitCode, _, err) = await RunToEndAsync("--listening-port", "abc");
        Assert.Equal(1, exitCode);
        Assert.Contains("Turn:ListeningPort", err, StringComparison.Ordinal);
    }

    /// <summary>
    /// The executable serves Binding on the port it was given, and TURN__* environment variables configure it
    /// (here SOFTWARE); stopping it ends the process.
    /// </summary>
    [Fact]
    public async Task Executable_serves_binding_and_reads_environment_configuration()
    {
        int port = FreePort();
        using Process process = Start(["--listening-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--listening-ip", "127.0.0.1"],
            new Dictionary<string, string> { ["TURN__SOFTWARE"] = "from-environment" });
        try
        {
            await WaitForLineAsync(process, "Server ready", TimeSpan.FromSeconds(60));
            using Socket socket = UdpSocket(new IPEndPoint(IPAddress.Loopback, port));
            var id = TransactionId.NewRandom();
            byte[]? response = await ExchangeUdpAsync(socket, BindingRequest(id));
            Assert.NotNull(response);
            Answer answer = Decode(response);
            Assert.Equal(id, answer.TransactionId);
            Assert.Equal(LocalAddress(socket), answer.XorMapped);
            Assert.Equal("from-environment", answer.Software);

            using var tcp = new TcpClient(AddressFamily.InterNetwork);
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            await tcp.GetStream().WriteAsync(BindingRequest(id));
            byte[]? tcpResponse = await ReadStunFromStreamAsync(tcp.GetStream());
            Assert.NotNull(tcpResponse);
            Assert.Equal(TransportAddress.FromIPEndPoint((IPEndPoint)tcp.Client.LocalEndPoint!), Decode(tcpResponse).XorMapped);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private static async Task WaitForLineAsync(Process process, string text, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            string? line = await process.StandardOutput.ReadLineAsync(cts.Token);
            if (line is null)
            {
                Assert.Fail($"the server exited before printing '{text}': {await process.StandardError.ReadToEndAsync()}");
            }

            if (line.Contains(text, StringComparison.Ordinal))
            {
                _ = DrainAsync(process.StandardOutput);
                return;
            }
        }
    }

    private static async Task DrainAsync(StreamReader reader)
    {
        while (await reader.ReadLineAsync() is not null)
        {
        }
    }

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 right now.</summary>
    private static int FreePort()
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
}

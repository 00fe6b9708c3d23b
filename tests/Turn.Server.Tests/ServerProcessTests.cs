using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;
using static Turn.Server.Tests.ServerProcess;
using static Turn.Server.Tests.StunTestClient;

namespace Turn.Server.Tests;

/// <summary>The real executable, started as a process: exit codes, messages, environment configuration.</summary>
public class ServerProcessTests
{
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
    /// (here SOFTWARE); its admin listener says it is ready and serves metrics; stopping it ends the process.
    /// </summary>
    [Fact]
    public async Task Executable_serves_binding_and_reads_environment_configuration()
    {
        int port = FreePort();
        using Process process = Start(["--listening-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--listening-ip", "127.0.0.1",
                "--tls-listening-port", "0", "--admin-listen", "127.0.0.1:0"],
            new Dictionary<string, string> { ["TURN__SOFTWARE"] = "from-environment" });
        try
        {
            IReadOnlyList<string> startup = await WaitForLineAsync(process, "Server ready", TimeSpan.FromSeconds(60));
            string admin = startup.Single(l => l.Contains("Admin listening on http://", StringComparison.Ordinal));
            string adminUrl = admin[admin.IndexOf("http://", StringComparison.Ordinal)..].Split(' ')[0];
            using (var http = new HttpClient())
            {
                using HttpResponseMessage ready = await http.GetAsync(new Uri(adminUrl + "/readyz"));
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
                string metrics = await http.GetStringAsync(new Uri(adminUrl + "/metrics"));
                Assert.Contains("turn_allocations_created_total 0", metrics, StringComparison.Ordinal);
            }

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
            await StopAsync(process);
        }
    }
    /// <summary>
    /// A second server on the port a first one holds must not start (and share the port's clients with it, as a
    /// SO_REUSEPORT group or a .NET ReuseAddress on Linux would let it): over UDP and over TCP alone, it exits 1 with
    /// a one-line message naming the port.
    /// </summary>
    [Theory]
    [InlineData("udp")]
    [InlineData("tcp")]
    public async Task Second_server_on_a_port_in_use_exits_1_naming_it(string protocol)
    {
        int port = FreePort();
        string text = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] only = protocol == "udp" ? ["--no-tcp"] : ["--no-udp"];
        string[] common = ["--listening-port", text, "--listening-ip", "127.0.0.1", "--no-tls", "--no-dtls", "--admin-listen", "127.0.0.1:0",
            "--udp-receive-loops", "2", .. only];
        using Process first = Start(common);
        try
        {
            await WaitForLineAsync(first, "Server ready", TimeSpan.FromSeconds(60));
            var (exitCode, _, err) = await RunToEndAsync(common);
            Assert.Equal(1, exitCode);
            Assert.Contains("cannot start: A listening address is in use", err, StringComparison.Ordinal);
            Assert.Contains($"port {text}", err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(first);
        }
    }
}

using System.Globalization;
using System.Text.Json;
using Turn.Server.Probe;

namespace Turn.Server.Tests;

/// <summary>
/// <c>turn-server probe</c> against a real server: two allocations relaying to each other (relay to relay; the relay
/// address here is on loopback, which the peer policy allows only with --allow-loopback-peers), round-trip
/// percentiles, loss and allocation time; a failure exits 1; the exporting mode serves the figures for Prometheus with
/// the region label.
/// </summary>
public sealed class ProbeTests
{
    private const string Secret = "probe-test-secret";

    private static Fixture NewServer() => new(["--use-auth-secret", "--static-auth-secret", Secret, "--relay-ip", "127.0.0.1",
        "--allow-loopback-peers"]);

    private static async Task<(int Status, string Out, string Err)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int status = await ProbeCommand.RunAsync(args, output, error, cancellationToken);
        return (status, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task A_probe_round_reports_allocation_time_rtt_and_loss()
    {
        Fixture server = NewServer();
        await server.InitializeAsync();
        try
        {
            var (status, output, error) = await RunAsync(CancellationToken.None, "--url", $"turn:127.0.0.1:{server.Port}", "--secret", Secret,
                "--seconds", "1", "--rate", "100", "--json");
            Assert.True(status == 0, error);
            using JsonDocument json = JsonDocument.Parse(output);
            JsonElement root = json.RootElement;
            Assert.Equal(100, root.GetProperty("sent").GetInt32());
            Assert.InRange(root.GetProperty("received").GetInt32(), 95, 100);
            Assert.InRange(root.GetProperty("lossPercent").GetDouble(), 0, 5);
            Assert.InRange(root.GetProperty("allocateMs").GetDouble(), 0.01, 5000);
            JsonElement rtt = root.GetProperty("rttMs");
            Assert.InRange(rtt.GetProperty("p50").GetDouble(), 0.001, 1000);
            Assert.True(rtt.GetProperty("p50").GetDouble() <= rtt.GetProperty("p99").GetDouble());
            Assert.True(rtt.GetProperty("p99").GetDouble() <= rtt.GetProperty("max").GetDouble());
            // Its allocations are deleted at the end of the round.
            await Eventually.WaitForAsync(() => server.Services.GetService(typeof(Turn.Relay.Allocations.AllocationTable)) is Turn.Relay.Allocations.AllocationTable t
                && t.Count == 0, "the probe left allocations behind");
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_wrong_secret_fails_with_status_1_and_says_why()
    {
        Fixture server = NewServer();
        await server.InitializeAsync();
        try
        {
            var (status, _, error) = await RunAsync(CancellationToken.None, "--url", $"turn:127.0.0.1:{server.Port}", "--secret", "not-the-secret",
                "--seconds", "1");
            Assert.Equal(1, status);
            Assert.Contains("error 401", error, StringComparison.Ordinal);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("--url", "http://h")]
    [InlineData("--url", "turn:127.0.0.1:3478", "--secret", "s", "--seconds", "0")]
    [InlineData("--url", "turn:127.0.0.1:3478")]
    [InlineData("--url", "turn:127.0.0.1:3478", "--secret", "s", "--bogus", "1")]
    public async Task Bad_arguments_exit_2(params string[] args)
    {
        var (status, _, error) = await RunAsync(CancellationToken.None, args);
        Assert.Equal(2, status);
        Assert.StartsWith("turn-server probe: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_exporting_mode_serves_the_last_round_with_the_region_label()
    {
        Fixture server = NewServer();
        await server.InitializeAsync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            int port = ServerProcess.FreePort();
            Task<(int, string, string)> probe = RunAsync(stop.Token, "--url", $"turn:127.0.0.1:{server.Port}", "--secret", Secret, "--seconds", "1",
                "--rate", "50", "--interval", "1", "--prometheus-port", port.ToString(CultureInfo.InvariantCulture), "--prometheus-address", "127.0.0.1",
                "--region", "eu-test");
            using var http = new HttpClient();
            string metrics = "";
            await Eventually.WaitForAsync(async () =>
            {
                try
                {
                    metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
                }
                catch (HttpRequestException)
                {
                    return false;
                }

                return metrics.Contains("turn_probe_success{region=\"eu-test\"} 1", StringComparison.Ordinal);
            }, "the probe did not export a successful round", TimeSpan.FromSeconds(30));
            Assert.Contains("turn_probe_rtt_seconds{region=\"eu-test\",quantile=\"0.99\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("turn_probe_loss_ratio{region=\"eu-test\"}", metrics, StringComparison.Ordinal);
            Assert.Contains("turn_probe_rounds_total{region=\"eu-test\",result=\"ok\"}", metrics, StringComparison.Ordinal);
            await stop.CancelAsync();
            var (status, _, _) = await probe;
            Assert.Equal(0, status);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    private sealed class Fixture(string[] arguments) : ServerFixture
    {
        protected override IEnumerable<string> ExtraArguments => arguments;
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Turn.Server.Tests;

/// <summary>
/// The real executable started on 127.0.0.1 with the test user, relaying on 127.0.0.1 to loopback peers, with TLS on a
/// free port (a self-signed certificate whose hash it prints) and the admin listener on a free port: what the tests of
/// the whole process (resource exhaustion, SIGTERM drain) need. Disposing stops the process if it is still running.
/// </summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(Process process, IPEndPoint turn, IPEndPoint tls)
    {
        Process = process;
        Turn = turn;
        Tls = tls;
    }

    public Process Process { get; }

    public IPEndPoint Turn { get; }

    public IPEndPoint Tls { get; }

    /// <summary>The admin listener's base URL, as the server printed it.</summary>
    public string Admin { get; private set; } = "";

    /// <summary>The SHA-256 of the self-signed certificate the server printed at start (hex, no separators).</summary>
    public string CertificateSha256 { get; private set; } = "";

    /// <summary>Resident memory, KiB.</summary>
    public long RssKiB
    {
        get
        {
            foreach (string line in File.ReadLines($"/proc/{Process.Id}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }

            throw new InvalidOperationException("no VmRSS");
        }
    }

    public int OpenDescriptors => Directory.GetFileSystemEntries($"/proc/{Process.Id}/fd").Length;

    /// <summary>Starts the server with <paramref name="extra"/> options and waits until it says it is ready.</summary>
    public static async Task<RunningServer> StartAsync(params string[] extra)
    {
        int port = ServerProcess.FreePort();
        int tls = ServerProcess.FreePort();
        Process process = ServerProcess.Start(["--listening-port", port.ToString(CultureInfo.InvariantCulture), "--listening-ip", "127.0.0.1",
            "--tls-listening-port", tls.ToString(CultureInfo.InvariantCulture), "--no-dtls", "--admin-listen", "127.0.0.1:0",
            "--realm", RelayServerFixture.Realm, "--user", $"{RelayServerFixture.User}:{RelayServerFixture.Password}",
            "--relay-ip", "127.0.0.1", "--allow-loopback-peers", .. extra]);
        var server = new RunningServer(process, new IPEndPoint(IPAddress.Loopback, port), new IPEndPoint(IPAddress.Loopback, tls));
        try
        {
            IReadOnlyList<string> startup = await ServerProcess.WaitForLineAsync(process, "Server ready", TimeSpan.FromSeconds(60));
            string certificate = startup.First(l => l.Contains("SHA-256 ", StringComparison.Ordinal));
            server.CertificateSha256 = certificate[(certificate.IndexOf("SHA-256 ", StringComparison.Ordinal) + 8)..]
                .Split(' ', ';')[0].Replace(":", "", StringComparison.Ordinal);
            string admin = startup.Single(l => l.Contains("Admin listening on http://", StringComparison.Ordinal));
            server.Admin = admin[admin.IndexOf("http://", StringComparison.Ordinal)..].Split(' ')[0];
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        _ = process.StandardError.ReadToEndAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            await ServerProcess.StopAsync(Process);
        }

        Process.Dispose();
    }
}

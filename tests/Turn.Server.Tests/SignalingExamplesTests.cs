using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>
/// The examples of docs/signaling.md: the document shows the files as they are, and the credentials each of them mints
/// (C#, Node.js, Python) allocate on a real server that holds the secret.
/// </summary>
public sealed partial class SignalingExamplesTests
{
    private const string Secret = "signaling-example-secret";

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Turn.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Turn.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"<!-- file: (?<path>[^ ]+) -->\n```[a-z]+\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex FileBlock();

    [Fact]
    public void The_document_shows_each_example_file_as_it_is()
    {
        string root = RepositoryRoot();
        string document = File.ReadAllText(Path.Combine(root, "docs", "signaling.md")).ReplaceLineEndings("\n");
        MatchCollection blocks = FileBlock().Matches(document);
        Assert.Equal(3, blocks.Count);
        foreach (Match block in blocks)
        {
            string file = File.ReadAllText(Path.Combine(root, block.Groups["path"].Value)).ReplaceLineEndings("\n");
            Assert.Equal(file, block.Groups["code"].Value);
        }
    }

    [Fact]
    public async Task The_csharp_example_mints_credentials_the_server_accepts()
    {
        var (username, credential) = Signaling.Examples.TurnRestCredentials.Mint(Secret, "csharp-user", TimeSpan.FromHours(1));
        await AssertAllocatesAsync(username, credential);
    }

    [Fact]
    public async Task The_node_example_mints_credentials_the_server_accepts()
    {
        using JsonDocument minted = JsonDocument.Parse(await RunAsync("node", Path.Combine(RepositoryRoot(), "docs", "examples", "turn-credentials.mjs")));
        await AssertAllocatesAsync(minted.RootElement.GetProperty("username").GetString()!, minted.RootElement.GetProperty("credential").GetString()!);
    }

    [Fact]
    public async Task The_python_example_mints_credentials_the_server_accepts()
    {
        using JsonDocument minted = JsonDocument.Parse(await RunAsync("/usr/bin/python3", Path.Combine(RepositoryRoot(), "docs", "examples", "turn_credentials.py")));
        await AssertAllocatesAsync(minted.RootElement.GetProperty("username").GetString()!, minted.RootElement.GetProperty("credential").GetString()!);
    }

    private static async Task<string> RunAsync(string interpreter, string script)
    {
        var info = new ProcessStartInfo(interpreter) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in new[] { script, Secret, "script-user", "3600" })
        {
            info.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException(interpreter + " did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"{interpreter} {script} failed: {await error}");
        return await output;
    }

    private static async Task AssertAllocatesAsync(string username, string credential)
    {
        var server = new ConfiguredRelayServer(["--use-auth-secret", "--static-auth-secret", Secret]);
        await server.InitializeAsync();
        try
        {
            using var client = new TurnTestClient(server.V4, username, credential);
            Assert.Null(TurnTestClient.ErrorCode(await client.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
            using var wrong = new TurnTestClient(server.V4, username, (credential[0] == 'A' ? "B" : "A") + credential[1..]);
            Assert.Equal(StunErrorCode.Unauthenticated,
                TurnTestClient.ErrorCode(await wrong.RequestAsync(StunMethod.Allocate, (ref StunMessageWriter w) => w.AddRequestedTransport(17))));
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}

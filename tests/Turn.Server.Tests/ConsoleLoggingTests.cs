using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Turn.Server.Logging;

namespace Turn.Server.Tests;

/// <summary>The batched console logger: both formats, prompt enough, nothing lost on dispose, drops counted when the writer is stuck.</summary>
public sealed partial class ConsoleLoggingTests
{
    [LoggerMessage(EventId = 42, Level = LogLevel.Information, Message = "Allocation for {User} on port {Port}")]
    private static partial void Sample(ILogger logger, string user, int port);

    [LoggerMessage(EventId = 0, Level = LogLevel.Error, Message = "It failed")]
    private static partial void Failed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "first, which the writer takes and then blocks on")]
    private static partial void First(ILogger logger);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "line")]
    private static partial void Line(ILogger logger);

    private static string[] Lines(MemoryStream stream) =>
        Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Simple_format_is_one_plain_line_per_event_written_within_the_flush_interval()
    {
        var output = new MemoryStream();
        using var provider = new BatchedConsoleLoggerProvider(ConsoleLogFormat.Simple, new LockedStream(output));
        ILogger logger = provider.CreateLogger("Turn.Test");
        Sample(logger, "alice", 3478);
        Failed(logger, new InvalidOperationException("broken\nacross lines"));
        Assert.True(SpinWait.SpinUntil(() => LockedStream.Read(output).Length >= 2, TimeSpan.FromSeconds(5)), "nothing was written");
        string[] lines = LockedStream.Read(output);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: Turn\.Test\[42\] Allocation for alice on port 3478$", lines[0]);
        Assert.StartsWith("fail: Turn.Test[0] It failed System.InvalidOperationException: broken across lines", lines[1][25..], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_format_carries_the_named_values()
    {
        var output = new MemoryStream();
        using (var provider = new BatchedConsoleLoggerProvider(ConsoleLogFormat.Json, new LockedStream(output)))
        {
            ILogger logger = provider.CreateLogger("Turn.Test");
            Sample(logger, "bob", 5349);
        }

        using JsonDocument json = JsonDocument.Parse(Assert.Single(Lines(output)));
        JsonElement root = json.RootElement;
        Assert.Equal(42, root.GetProperty("EventId").GetInt32());
        Assert.Equal("Information", root.GetProperty("LogLevel").GetString());
        Assert.Equal("Turn.Test", root.GetProperty("Category").GetString());
        Assert.Equal("Allocation for bob on port 5349", root.GetProperty("Message").GetString());
        Assert.Equal("bob", root.GetProperty("State").GetProperty("User").GetString());
        Assert.Equal(5349, root.GetProperty("State").GetProperty("Port").GetInt32());
    }

    [Fact]
    public void Dispose_writes_everything_queued()
    {
        var output = new MemoryStream();
        using (var provider = new BatchedConsoleLoggerProvider(ConsoleLogFormat.Simple, new LockedStream(output)))
        {
            ILogger logger = provider.CreateLogger("Turn.Test");
            for (int i = 0; i < 10_000; i++)
            {
                string user = "user" + i;
                Sample(logger, user, i);
            }
        }

        string[] lines = Lines(output);
        Assert.Equal(10_000, lines.Length);
        Assert.EndsWith("Allocation for user9999 on port 9999", lines[^1], StringComparison.Ordinal);
    }

    /// <summary>A writer that cannot write (stdout blocked) costs lines, counted, not the server's threads.</summary>
    [Fact]
    public void Lines_beyond_the_queue_bound_are_dropped_and_counted_when_the_writer_is_stuck()
    {
        using var gate = new ManualResetEventSlim(false);
        var output = new MemoryStream();
        var provider = new BatchedConsoleLoggerProvider(ConsoleLogFormat.Simple, new LockedStream(output, gate));
        ILogger logger = provider.CreateLogger("Turn.Test");
        First(logger);
        Thread.Sleep(200);
        for (int i = 0; i < BatchedConsoleLoggerProvider.MaxQueuedLines + 100; i++)
        {
            Line(logger);
        }

        Assert.Equal(100, provider.DroppedLines);
        gate.Set();
        provider.Dispose();
        Assert.Equal(BatchedConsoleLoggerProvider.MaxQueuedLines + 1, Lines(output).Length);
    }

    /// <summary>A stream the writer thread writes and the test reads at the same time; writes wait for <c>gate</c> when given.</summary>
    private sealed class LockedStream(MemoryStream inner, ManualResetEventSlim? gate = null) : Stream
    {
        public static string[] Read(MemoryStream stream)
        {
            lock (stream)
            {
                return Encoding.UTF8.GetString(stream.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            gate?.Wait();
            lock (inner)
            {
                inner.Write(buffer, offset, count);
            }
        }
    }
}

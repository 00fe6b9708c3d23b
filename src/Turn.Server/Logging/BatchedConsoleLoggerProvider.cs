using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Turn.Server.Logging;

/// <summary>
/// Log events to standard output, one line each (plain or JSON), written in batches by a thread of its own. The
/// thread that logs only formats its line and queues it; the writer wakes every <see cref="FlushInterval"/> (or
/// sooner when many lines wait) and writes everything queued with one buffered write. So a burst of events (two audit
/// events per allocation at thousands of allocations a second) costs no thread switch and no system call per event,
/// which a writer woken for every event would. Lines beyond <see cref="MaxQueuedLines"/> are dropped and counted
/// rather than blocking the server; disposing writes what is queued.
/// </summary>
public sealed class BatchedConsoleLoggerProvider : ILoggerProvider
{
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(50);

    public const int MaxQueuedLines = 100_000;

    /// <summary>Wake the writer early once this many lines wait.</summary>
    private const int EarlyWakeLines = 4096;

    private readonly ConcurrentQueue<string> _lines = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _writer;
    private readonly Stream _output;
    private readonly ConsoleLogFormat _format;
    private volatile bool _stopping;
    private int _queued;
    private long _dropped;

    public BatchedConsoleLoggerProvider(ConsoleLogFormat format, Stream? output = null)
    {
        _format = format;
        _output = output ?? Console.OpenStandardOutput();
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "log writer" };
        _writer.Start();
    }

    /// <summary>Lines dropped because <see cref="MaxQueuedLines"/> were waiting.</summary>
    public long DroppedLines => Interlocked.Read(ref _dropped);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _wake.Set();
        _writer.Join(TimeSpan.FromSeconds(5));
        _wake.Dispose();
    }

    private void Enqueue(string line, bool urgent)
    {
        if (Interlocked.Increment(ref _queued) > MaxQueuedLines)
        {
            Interlocked.Decrement(ref _queued);
            Interlocked.Increment(ref _dropped);
            return;
        }

        _lines.Enqueue(line);
        if (urgent || Volatile.Read(ref _queued) >= EarlyWakeLines)
        {
            _wake.Set();
        }
    }

    private void WriteLoop()
    {
        using var writer = new StreamWriter(_output, new UTF8Encoding(false), 64 * 1024) { AutoFlush = false };
        while (true)
        {
            _wake.Wait(FlushInterval);
            _wake.Reset();
            bool wrote = false;
            while (_lines.TryDequeue(out string? line))
            {
                Interlocked.Decrement(ref _queued);
                writer.Write(line);
                writer.Write('\n');
                wrote = true;
            }

            if (wrote)
            {
                try
                {
                    writer.Flush();
                }
                catch (IOException)
                {
                    // Standard output is gone (closed pipe): nothing else to tell it to.
                }
            }

            if (_stopping && _lines.IsEmpty)
            {
                return;
            }
        }
    }

    private string Format<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        string message = formatter(state, exception);
        DateTime now = DateTime.UtcNow;
        if (_format == ConsoleLogFormat.Simple)
        {
            var line = new StringBuilder(64 + category.Length + message.Length);
            line.Append(now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ ", CultureInfo.InvariantCulture)).Append(ShortName(level)).Append(": ")
                .Append(category).Append('[').Append(eventId.Id).Append("] ").Append(message);
            if (exception is not null)
            {
                line.Append(' ').Append(exception.ToString().ReplaceLineEndings(" "));
            }

            return line.ToString();
        }

        var buffer = new ArrayBufferWriter<byte>(256 + message.Length);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("Timestamp", now.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
            json.WriteNumber("EventId", eventId.Id);
            json.WriteString("LogLevel", level.ToString());
            json.WriteString("Category", category);
            json.WriteString("Message", message);
            if (exception is not null)
            {
                json.WriteString("Exception", exception.ToString());
            }

            if (state is IReadOnlyList<KeyValuePair<string, object?>> values)
            {
                json.WriteStartObject("State");
                foreach (KeyValuePair<string, object?> value in values)
                {
                    WriteValue(json, value.Key, value.Value);
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteValue(Utf8JsonWriter json, string name, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNull(name);
                break;
            case bool flag:
                json.WriteBoolean(name, flag);
                break;
            case int or long or short or byte or uint or ulong or ushort:
                json.WriteNumber(name, Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case double or float or decimal:
                json.WriteNumber(name, Convert.ToDouble(value, CultureInfo.InvariantCulture));
                break;
            default:
                json.WriteString(name, Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    private static string ShortName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private sealed class Logger(BatchedConsoleLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            ArgumentNullException.ThrowIfNull(formatter);
            owner.Enqueue(owner.Format(category, logLevel, eventId, state, exception, formatter), urgent: logLevel >= LogLevel.Warning);
        }
    }
}

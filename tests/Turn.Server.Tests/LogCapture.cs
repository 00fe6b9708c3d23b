using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Turn.Server.Tests;

/// <summary>Keeps the last log events of a server in memory, so tests can look for the ones they expect.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private const int MaxEvents = 20_000;
    private readonly ConcurrentQueue<LogEvent> _events = new();

    public readonly record struct LogEvent(string Category, LogLevel Level, int EventId, string Message);

    public IReadOnlyList<LogEvent> Events => [.. _events];

    /// <summary>Events with <paramref name="eventId"/> whose message contains <paramref name="text"/>.</summary>
    public IReadOnlyList<LogEvent> Find(int eventId, string text) =>
        [.. _events.Where(e => e.EventId == eventId && e.Message.Contains(text, StringComparison.Ordinal))];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Add(LogEvent logEvent)
    {
        _events.Enqueue(logEvent);
        while (_events.Count > MaxEvents && _events.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Add(new LogEvent(category, logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}

namespace Turn.Server.Logging;

/// <summary>How log events are written to standard output (--log-format).</summary>
public enum ConsoleLogFormat
{
    /// <summary>One line per event: time, level, category[event id], message.</summary>
    Simple,

    /// <summary>One JSON object per line, with the message's named values under "State".</summary>
    Json,
}

namespace Turn.Server;

/// <summary>
/// The server cannot start for a reason an operator can act on (a port in use, an address not on this host); the
/// executable prints the message on one line and exits 1, without a stack trace.
/// </summary>
public sealed class StartupException : Exception
{
    public StartupException()
    {
    }

    public StartupException(string message)
        : base(message)
    {
    }

    public StartupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

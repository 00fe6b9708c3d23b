namespace Turn.Server;

/// <summary>Process-wide socket settings the server runs with; applied before the first socket exists.</summary>
public static class SocketRuntimeSettings
{
    public const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Socket completions run on the socket event thread instead of hopping to the thread pool: every receive loop
    /// here handles its datagram synchronously and never blocks, so the hop only cost a context switch (and, in the
    /// thread pool's queues, some allocation) per packet. Read once by .NET, when the first socket is used; an
    /// operator's own setting wins.
    /// </summary>
    public static void Apply()
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }
}

using System.Runtime.CompilerServices;

namespace Turn.Server.Tests;

/// <summary>
/// The servers these tests start in this process run with the socket settings of the turn-server executable, applied
/// as it applies them: before the first socket is used.
/// </summary>
internal static class ServerRuntimeSettings
{
    [ModuleInitializer]
    internal static void ApplyTheExecutablesSocketSettings() => SocketRuntimeSettings.Apply();
}

using System.Runtime.InteropServices;

namespace Turn.Transports;

/// <summary>Process-wide signal dispositions the server needs set before it registers its own handlers.</summary>
public static partial class SignalDisposition
{
    private const int SignalHangUp = 1;

    /// <summary>
    /// A process started under nohup (or by anything else that ignores SIGHUP) inherits SIGHUP ignored, and the runtime
    /// then never reports it to a registered handler. Resetting it to the default first makes a reload signal reach the
    /// handler registered next. Linux only; elsewhere nothing is done.
    /// </summary>
    public static void ResetHangUpToDefault()
    {
        if (OperatingSystem.IsLinux())
        {
            _ = SetDisposition(SignalHangUp, 0);
        }
    }

    /// <summary>signal(2) with SIG_DFL (0).</summary>
    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SetDisposition(int signal, nint handler);
}

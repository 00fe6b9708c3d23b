using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace Turn.Server;

/// <summary>
/// The host's lifetime with TURN's signals: SIGTERM (what Kubernetes, systemd and docker stop send) starts a graceful
/// drain instead of stopping at once; SIGHUP reloads the configuration; SIGINT (Ctrl+C) and SIGQUIT stop at once.
/// </summary>
internal sealed class DrainingHostLifetime(IHostApplicationLifetime lifetime, DrainCoordinator drain, ConfigurationReloader reloader)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        // Under nohup SIGHUP arrives ignored and would never reach the reload handler.
        Turn.Transports.SignalDisposition.ResetHangUpToDefault();
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            drain.Begin("SIGTERM");
        }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            reloader.Reload("SIGHUP");
        }));
        foreach (PosixSignal signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGQUIT })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                lifetime.StopApplication();
            }));
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
        {
            registration.Dispose();
        }

        _registrations.Clear();
    }
}

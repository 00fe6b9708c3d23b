using System.Collections.Concurrent;
using Turn.Relay.Allocations;

namespace Turn.Transports.Tests.Native;

/// <summary>A client sender that keeps every message it is given, for a test to take with a timeout.</summary>
internal sealed class RecordingClientSender : IClientSender, IDisposable
{
    private readonly BlockingCollection<byte[]> _messages = [];

    public int Count => _messages.Count;

    public void Send(ReadOnlySpan<byte> message) => _messages.Add(message.ToArray());

    /// <summary>The next message, failing the test when none comes within <see cref="LoopbackUdp.WaitLimit"/>.</summary>
    public byte[] Take()
    {
        Assert.True(_messages.TryTake(out byte[]? message, LoopbackUdp.WaitLimit), "nothing was sent to the client in time");
        return message;
    }

    public void Dispose() => _messages.Dispose();
}

using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Turn.Stun;

namespace Turn.Server.Probe;

/// <summary>What one probe round measured.</summary>
public sealed record ProbeResult(double AllocateMilliseconds, int Sent, int Received, double LossPercent, double RttP50Milliseconds,
    double RttP90Milliseconds, double RttP99Milliseconds, double RttMaxMilliseconds);

/// <summary>
/// One probe round: two allocations on the server, A and B, each with a channel to the other's relayed address
/// (relay to relay, so the probe needs no reachable address of its own; the server's peer policy must allow its own
/// relayed addresses, as it does for public ones and behind --external-ip, while a private or loopback relay address
/// needs --allowed-peer-ip or --allow-loopback-peers). A sends
/// numbered, time-stamped ChannelData at a steady rate; B sends each one back; A measures the round trip
/// (client → server → relay → server → client, twice through the relay) and counts what never came back.
/// </summary>
public static class ProbeRound
{
    private const ushort Channel = 0x4000;
    private const int PayloadLength = 100;

    public static async Task<ProbeResult> RunAsync(IPEndPoint server, string username, string password, TimeSpan duration, int rate,
        CancellationToken cancellationToken)
    {
        using var a = new TurnProbeClient(server, username, password);
        using var b = new TurnProbeClient(server, username, password);
        long start = Stopwatch.GetTimestamp();
        TransportAddress relayA = await a.AllocateAsync(cancellationToken).ConfigureAwait(false);
        double allocateMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        try
        {
            TransportAddress relayB = await b.AllocateAsync(cancellationToken).ConfigureAwait(false);
            await a.ChannelBindAsync(Channel, relayB, cancellationToken).ConfigureAwait(false);
            await b.ChannelBindAsync(Channel, relayA, cancellationToken).ConfigureAwait(false);

            int count = Math.Max(1, (int)(duration.TotalSeconds * rate));
            var rtts = new List<double>(count);
            var seen = new bool[count];
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task echo = EchoAsync(b, stop.Token);
            Task<int> receive = ReceiveAsync(a, rtts, seen, stop.Token);
            await SendAsync(a, count, rate, cancellationToken).ConfigureAwait(false);
            // What is still on its way gets one second more.
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await echo.ConfigureAwait(false);
            int received = await receive.ConfigureAwait(false);
            rtts.Sort();
            return new ProbeResult(allocateMs, count, received, 100.0 * (count - received) / count,
                Percentile(rtts, 0.50), Percentile(rtts, 0.90), Percentile(rtts, 0.99), rtts.Count > 0 ? rtts[^1] : double.NaN);
        }
        finally
        {
            await a.DeleteAsync(CancellationToken.None).ConfigureAwait(false);
            await b.DeleteAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static double Percentile(List<double> sorted, double quantile) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(quantile * sorted.Count) - 1)];

    private static async Task SendAsync(TurnProbeClient a, int count, int rate, CancellationToken cancellationToken)
    {
        byte[] frame = new byte[ChannelData.HeaderLength + PayloadLength];
        ChannelData.WriteHeader(frame, Channel, PayloadLength);
        long started = Stopwatch.GetTimestamp();
        for (int i = 0; i < count; i++)
        {
            // Paced against the start, so a slow send does not stretch the round.
            TimeSpan due = TimeSpan.FromSeconds((double)i / rate) - Stopwatch.GetElapsedTime(started);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
            }

            BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(ChannelData.HeaderLength), i);
            BinaryPrimitives.WriteInt64BigEndian(frame.AsSpan(ChannelData.HeaderLength + 4), Stopwatch.GetTimestamp());
            await a.SendAsync(frame, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task EchoAsync(TurnProbeClient b, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[2048];
        while (!cancellationToken.IsCancellationRequested)
        {
            int received = await b.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (received >= ChannelData.HeaderLength + 12 && ChannelData.TryParse(buffer.AsSpan(0, received), false, out ushort channel, out _)
                && channel == Channel)
            {
                await b.SendAsync(buffer.AsMemory(0, received), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task<int> ReceiveAsync(TurnProbeClient a, List<double> rtts, bool[] seen, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[2048];
        int received = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            int length = await a.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            if (length < ChannelData.HeaderLength + 12 || !ChannelData.TryParse(buffer.AsSpan(0, length), false, out ushort channel, out _)
                || channel != Channel)
            {
                continue;
            }

            int sequence = BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(ChannelData.HeaderLength));
            long sentAt = BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(ChannelData.HeaderLength + 4));
            if (sequence < 0 || sequence >= seen.Length || seen[sequence])
            {
                continue;
            }

            seen[sequence] = true;
            received++;
            rtts.Add(Stopwatch.GetElapsedTime(sentAt).TotalMilliseconds);
        }

        return received;
    }
}

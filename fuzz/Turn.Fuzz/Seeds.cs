using System.Buffers.Binary;
using System.Text.Json;
using Turn.Stun;

namespace Turn.Fuzz;

/// <summary>Seed inputs: the RFC test vectors, and messages of every TURN method as the engine target reads them.</summary>
public static class Seeds
{
    public static IEnumerable<byte[]> For(string target, string vectorsPath)
    {
        List<byte[]> messages = [.. Vectors(vectorsPath), .. Turn()];
        return target switch
        {
            "stun" => messages,
            // Framing: a mode byte (legacy channels and the split point), then frames back to back.
            "framing" => messages.Select(m => (byte[])[(byte)(m.Length / 2), .. m, .. ChannelDataFrame(0x4000, 5)])
                .Append([0x83, .. ChannelDataFrame(0x7FFF, 3), .. messages[0]]),
            "engine" => [Engine()],
            _ => throw new ArgumentException($"unknown target '{target}'", nameof(target)),
        };
    }

    private static IEnumerable<byte[]> Vectors(string path)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement vector in document.RootElement.GetProperty("vectors").EnumerateArray())
        {
            if (vector.TryGetProperty("hex", out JsonElement hex) && hex.GetString() is { Length: > 0 } text)
            {
                yield return Convert.FromHexString(text);
            }
        }
    }

    private delegate void Attributes(ref StunMessageWriter writer);

    private static byte[] Message(StunMethod method, StunClass cls, Attributes attributes)
    {
        byte[] buffer = new byte[1024];
        var writer = new StunMessageWriter(buffer, new StunMessageType(method, cls), TransactionId.NewRandom());
        attributes(ref writer);
        writer.AddAttribute(StunAttributeType.Username, TrustingAuthenticator.UserName);
        writer.AddFingerprint();
        return buffer[..writer.Length];
    }

    private static readonly TransportAddress Peer = TransportAddress.FromIPAddress(System.Net.IPAddress.Parse("192.0.2.7"), 5000);

    private static byte[][] Turn() =>
    [
        Message(StunMethod.Binding, StunClass.Request, (ref StunMessageWriter w) => { }),
        Message(StunMethod.Allocate, StunClass.Request, (ref StunMessageWriter w) =>
        {
            w.AddRequestedTransport(RequestedTransportValue.Udp);
            w.AddUInt32(StunAttributeType.Lifetime, 600);
        }),
        Message(StunMethod.Allocate, StunClass.Request, (ref StunMessageWriter w) =>
        {
            w.AddRequestedTransport(RequestedTransportValue.Udp);
            w.AddAttribute(StunAttributeType.EvenPort, [0x80]);
            w.AddAttribute(StunAttributeType.AdditionalAddressFamily, [2, 0, 0, 0]);
        }),
        Message(StunMethod.CreatePermission, StunClass.Request, (ref StunMessageWriter w) => w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer)),
        Message(StunMethod.ChannelBind, StunClass.Request, (ref StunMessageWriter w) =>
        {
            w.AddChannelNumber(0x4000);
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
        }),
        Message(StunMethod.Send, StunClass.Indication, (ref StunMessageWriter w) =>
        {
            w.AddXorAddress(StunAttributeType.XorPeerAddress, Peer);
            w.AddAttribute(StunAttributeType.Data, [1, 2, 3, 4, 5]);
        }),
        Message(StunMethod.Refresh, StunClass.Request, (ref StunMessageWriter w) => w.AddUInt32(StunAttributeType.Lifetime, 0)),
        ChannelDataFrame(0x4000, 8),
    ];

    private static byte[] ChannelDataFrame(ushort channel, int length)
    {
        byte[] frame = new byte[4 + ((length + 3) & ~3)];
        BinaryPrimitives.WriteUInt16BigEndian(frame, channel);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), (ushort)length);
        return frame;
    }

    /// <summary>One client's whole life in engine records ([selector][length][bytes]): allocate, permit, bind, relay both ways, refresh, delete.</summary>
    private static byte[] Engine()
    {
        byte[][] turn = Turn();
        var records = new List<byte>();
        void Add(byte selector, byte[] bytes)
        {
            records.Add(selector);
            records.Add((byte)(bytes.Length >> 8));
            records.Add((byte)bytes.Length);
            records.AddRange(bytes);
        }

        Add(0, turn[1]);          // Allocate from tuple 0
        Add(0, turn[3]);          // CreatePermission
        Add(0, turn[4]);          // ChannelBind
        Add(0, turn[7]);          // ChannelData to the peer
        Add(0, turn[5]);          // Send indication
        Add(0x10, [9, 9, 9]);     // the peer answers (data to the client)
        Add(0x20 | 1, turn[2]);   // a second client, a second later: EVEN-PORT, dual
        Add(0x40, turn[6]);       // 30 s later, tuple 0 deletes its allocation
        Add(3, turn[1]);          // over TCP
        return [.. records];
    }
}

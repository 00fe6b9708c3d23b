using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Turn.Stun;

namespace Turn.Server.Tests;

/// <summary>Builds requests and reads answers for the end-to-end tests, over real loopback sockets.</summary>
internal static class StunTestClient
{
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A Binding request; <paramref name="extra"/> appends attributes before the optional FINGERPRINT.</summary>
    public static byte[] BindingRequest(TransactionId id, bool fingerprint = true, WriterAction? extra = null, StunClass cls = StunClass.Request)
    {
        byte[] buffer = new byte[1024];
        var writer = new StunMessageWriter(buffer, new StunMessageType(StunMethod.Binding, cls), id);
        extra?.Invoke(ref writer);
        if (fingerprint)
        {
            writer.AddFingerprint();
        }

        return buffer[..writer.Length];
    }

    public delegate void WriterAction(ref StunMessageWriter writer);

    /// <summary>RFC 3489 §11.1: no magic cookie; the 128-bit transaction id fills bytes 4-19.</summary>
    public static byte[] ClassicBindingRequest(ReadOnlySpan<byte> transactionId128, uint? changeRequestFlags = null)
    {
        byte[] message = new byte[20 + (changeRequestFlags is null ? 0 : 8)];
        BinaryPrimitives.WriteUInt16BigEndian(message, 0x0001);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(2), (ushort)(message.Length - 20));
        transactionId128.CopyTo(message.AsSpan(4));
        if (changeRequestFlags is { } flags)
        {
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(20), (ushort)StunAttributeType.ChangeRequest);
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(22), 4);
            BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(24), flags);
        }

        return message;
    }

    public static Socket UdpSocket(IPEndPoint server, int localPort = 0) => UdpSocket(server, server.Address, localPort);

    /// <summary>A UDP socket on <paramref name="localAddress"/> connected to <paramref name="server"/>.</summary>
    public static Socket UdpSocket(IPEndPoint server, IPAddress localAddress, int localPort = 0)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(localAddress, localPort));
        socket.Connect(server);
        return socket;
    }

    /// <summary>Sends one datagram and waits for one answer; null when none comes within <paramref name="timeout"/>.</summary>
    public static async Task<byte[]?> ExchangeUdpAsync(Socket socket, byte[] request, TimeSpan? timeout = null)
    {
        await socket.SendAsync(request);
        return await ReceiveUdpAsync(socket, timeout ?? AnswerTimeout);
    }

    public static async Task<byte[]?> ReceiveUdpAsync(Socket socket, TimeSpan timeout)
    {
        byte[] buffer = new byte[65536];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return buffer[..n];
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Reads one STUN message (20-byte header, then Length bytes) from a TCP stream; null at end of stream.</summary>
    public static async Task<byte[]?> ReadStunFromStreamAsync(NetworkStream stream, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? AnswerTimeout);
        byte[] header = new byte[20];
        if (!await ReadExactlyOrEndAsync(stream, header, cts.Token))
        {
            return null;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        byte[] message = new byte[20 + length];
        header.CopyTo(message, 0);
        if (!await ReadExactlyOrEndAsync(stream, message.AsMemory(20), cts.Token))
        {
            return null;
        }

        return message;
    }

    private static async Task<bool> ReadExactlyOrEndAsync(NetworkStream stream, Memory<byte> buffer, CancellationToken token)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await stream.ReadAsync(buffer[read..], token);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    /// <summary>Decoded facts of an answer, for assertions.</summary>
    public sealed record Answer(StunMessageType Type, TransactionId TransactionId, uint Cookie, TransportAddress? XorMapped,
        TransportAddress? Mapped, string? Software, int? ErrorCode, ushort[] UnknownAttributes, bool HasFingerprint,
        bool FingerprintValid, ushort[] AttributeOrder);

    public static Answer Decode(byte[] message)
    {
        Assert.Equal(StunParseStatus.Success, StunMessageReader.TryParse(message, out StunMessageReader reader));
        TransportAddress? xor = null, mapped = null;
        string? software = null;
        int? error = null;
        var unknown = new List<ushort>();
        var order = new List<ushort>();
        foreach (StunAttribute attribute in reader.AllAttributes)
        {
            order.Add(attribute.Type);
            switch (attribute.KnownType)
            {
                case StunAttributeType.XorMappedAddress:
                    Assert.True(XorAddressValue.TryRead(attribute.Value, reader.Header.TransactionId, out TransportAddress x));
                    xor = x;
                    break;
                case StunAttributeType.MappedAddress:
                    Assert.True(AddressValue.TryRead(attribute.Value, out TransportAddress m));
                    mapped = m;
                    break;
                case StunAttributeType.Software:
                    software = System.Text.Encoding.UTF8.GetString(attribute.Value);
                    break;
                case StunAttributeType.ErrorCode:
                    Assert.True(ErrorCodeValue.TryRead(attribute.Value, out int code, out _));
                    error = code;
                    break;
                case StunAttributeType.UnknownAttributes:
                    for (int i = 0; i < UnknownAttributesValue.Count(attribute.Value); i++)
                    {
                        unknown.Add(UnknownAttributesValue.Get(attribute.Value, i));
                    }

                    break;
            }
        }

        return new Answer(reader.Header.Type, reader.Header.TransactionId, reader.Header.Cookie, xor, mapped, software, error,
            [.. unknown], reader.HasFingerprint, reader.HasFingerprint && reader.VerifyFingerprint(), [.. order]);
    }

    public static TransportAddress LocalAddress(Socket socket) => TransportAddress.FromIPEndPoint((IPEndPoint)socket.LocalEndPoint!);
}

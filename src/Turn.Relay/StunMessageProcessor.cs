using Turn.Stun;

namespace Turn.Relay;

/// <summary>
/// The transport-agnostic entry point: one packet (a datagram, or a frame cut from a stream) and its 5-tuple in,
/// the answer bytes out. Never throws on input; anything it does not answer is counted in <see cref="ServerCounters"/>.
/// </summary>
public sealed class StunMessageProcessor
{
    /// <summary>A response buffer of this size always suffices.</summary>
    public const int MaxResponseLength = 2048;

    private readonly ServerCounters _counters;
    private readonly BindingHandler _binding;

    public StunMessageProcessor(TurnEngineOptions options, ServerCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        _counters = counters ?? throw new ArgumentNullException(nameof(counters));
        _binding = new BindingHandler(new StunResponses(options.Software));
    }

    public ServerCounters Counters => _counters;

    /// <summary>Handles one message; returns how many bytes of <paramref name="response"/> to send back (0: none).</summary>
    public int Process(ReadOnlySpan<byte> packet, in FiveTuple tuple, Allocations.IClientTransport? transport, Span<byte> response) =>
        Process(packet, tuple, response);

    /// <summary>Handles one message; returns how many bytes of <paramref name="response"/> to send back (0: none).</summary>
    public int Process(ReadOnlySpan<byte> packet, in FiveTuple tuple, Span<byte> response)
    {
        switch (PacketClassifier.Classify(packet))
        {
            case PacketKind.Stun:
                break;
            case PacketKind.ChannelData:
                // RFC 8656 §5: ChannelData on a 5-tuple without an allocation is silently ignored.
                _counters.CountDrop(DropReason.NoAllocation);
                return 0;
            default:
                _counters.CountDrop(DropReason.NotStunOrChannelData);
                return 0;
        }

        // RFC 8489 §6.3: a message that fails the basic checks is silently discarded.
        if (StunMessageReader.TryParse(packet, out StunMessageReader message) != StunParseStatus.Success)
        {
            _counters.CountDrop(DropReason.Malformed);
            return 0;
        }

        // RFC 8489 §7: a FINGERPRINT that is present must be right.
        if (message.HasFingerprint && !message.VerifyFingerprint())
        {
            _counters.CountDrop(DropReason.BadFingerprint);
            return 0;
        }

        int written = message.Header.Class switch
        {
            StunClass.Request => HandleRequest(message, tuple, response),
            StunClass.Indication => HandleIndication(message),
            // RFC 8489 §6.3: the server has no transaction in progress, so responses are discarded.
            _ => Drop(DropReason.UnexpectedResponse),
        };

        if (written > 0)
        {
            CountAnswer(response[..written]);
        }

        return written;
    }

    private int HandleRequest(in StunMessageReader request, in FiveTuple tuple, Span<byte> response)
    {
        if (request.Header.Method == StunMethod.Binding)
        {
            _counters.CountBindingRequest();
            return _binding.HandleRequest(request, tuple, response);
        }

        // RFC 8656 §5: TURN does not use the RFC 3489 compatibility mode.
        return Drop(request.Header.HasMagicCookie ? DropReason.UnsupportedMethod : DropReason.MissingMagicCookie);
    }

    private int HandleIndication(in StunMessageReader indication)
    {
        if (indication.Header.Method != StunMethod.Binding)
        {
            return Drop(DropReason.UnsupportedMethod);
        }

        // RFC 8489 §6.3.2: indications are never answered; one with unknown required attributes is discarded.
        Span<ushort> unknown = stackalloc ushort[1];
        if (BindingHandler.CollectUnknownAttributes(indication, unknown) > 0)
        {
            return Drop(DropReason.UnknownAttributeInIndication);
        }

        // RFC 8489 §6.3.2: a Binding indication is a keepalive and needs nothing more.
        _counters.CountBindingIndication();
        return 0;
    }

    private void CountAnswer(ReadOnlySpan<byte> response)
    {
        if (StunMessageType.Decode((ushort)((response[0] << 8) | response[1])).Class == StunClass.ErrorResponse)
        {
            _counters.CountError();
        }
        else
        {
            _counters.CountSuccess();
        }
    }

    private int Drop(DropReason reason)
    {
        _counters.CountDrop(reason);
        return 0;
    }
}

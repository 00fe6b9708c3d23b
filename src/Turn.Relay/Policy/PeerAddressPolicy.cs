using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using Turn.Stun;

namespace Turn.Relay.Policy;

/// <summary>
/// Which peer addresses an allocation may relay to: the defence against using a TURN server to reach the server's
/// own host and network (RFC 8656 §21.2.2, §21.1.7, §21.4; coturn CVE-2020-26262). Immutable and thread-safe; a
/// configuration reload builds a new one. <see cref="IsAllowed(in TransportAddress)"/> allocates nothing and takes
/// no lock, so it can run for every Send indication and ChannelData message.
/// </summary>
/// <remarks>
/// <para>Where to apply it: every XOR-PEER-ADDRESS of CreatePermission (403, and no permission of the request
/// installed; checklist 93), ChannelBind (403; checklist 109), Send (silently discard; checklist 102) and Connect (403
/// before any connection attempt; checklist 144). Judge the address actually used for sending.</para>
/// <para>Decision, first match wins:</para>
/// <list type="number">
/// <item><description><see cref="PeerAddressPolicyOptions.DeniedPeerRanges"/> contains the address, or the IPv4
/// address it embeds or tunnels to: denied. Listing an address in both lists denies it.</description></item>
/// <item><description><see cref="PeerAddressPolicyOptions.AllowedPeerRanges"/> contains the address, or the IPv4
/// address it translates to (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64; not Teredo or 6to4, which only an
/// IPv6 entry unlocks): allowed. For the <see cref="PeerAddressCategory.ServerOwn"/> and
/// <see cref="PeerAddressCategory.CloudMetadata"/> categories only an entry of that single address counts, so that
/// allowing "10.0.0.0/8" does not open the server's own 10.0.0.5 nor allowing "100.64.0.0/10" Alibaba's
/// metadata service.</description></item>
/// <item><description>The category default (<see cref="IsAllowedByDefault"/>): <see cref="PeerAddressCategory.Public"/>
/// allowed; <see cref="PeerAddressCategory.Loopback"/> as <see cref="PeerAddressPolicyOptions.AllowLoopbackPeers"/>;
/// <see cref="PeerAddressCategory.Private"/> as <see cref="PeerAddressPolicyOptions.AllowPrivatePeers"/>; every other
/// category denied (unspecified, link-local, cloud metadata, multicast, reserved/broadcast, tunneled, server-own
/// always; carrier-grade NAT, benchmarking, documentation unless allowed by range).</description></item>
/// </list>
/// </remarks>
public sealed class PeerAddressPolicy
{
    private readonly IPAddressRangeSet _allowed;
    private readonly IPAddressRangeSet _denied;
    private readonly IPAddressBits[] _serverAddresses;
    private readonly int _relayMinPort;
    private readonly int _relayMaxPort;

    /// <summary>Builds a policy from validated options.</summary>
    /// <exception cref="ArgumentException">An entry of the options is invalid; the message names it.</exception>
    public PeerAddressPolicy(PeerAddressPolicyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        Read(options, null, errors, out IPAddressRange[] allowed, out IPAddressRange[] denied, out _serverAddresses);
        if (errors.Count != 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        _allowed = new IPAddressRangeSet(allowed);
        _denied = new IPAddressRangeSet(denied);

        AllowLoopbackPeers = options.AllowLoopbackPeers;
        AllowPrivatePeers = options.AllowPrivatePeers;
        _relayMinPort = options.RelayMinPort;
        _relayMaxPort = options.RelayMaxPort;
        AllowedPeerRanges = Array.AsReadOnly(allowed);
        DeniedPeerRanges = Array.AsReadOnly(denied);
    }

    /// <summary>The policy of default options: public unicast peers only.</summary>
    public static PeerAddressPolicy Default { get; } = new(new PeerAddressPolicyOptions());

    public bool AllowLoopbackPeers { get; }

    public bool AllowPrivatePeers { get; }

    public ReadOnlyCollection<IPAddressRange> AllowedPeerRanges { get; }

    public ReadOnlyCollection<IPAddressRange> DeniedPeerRanges { get; }

    /// <summary>
    /// Checks options as an options validator would: one message per bad entry, naming its configuration key, e.g.
    /// "Turn:AllowedPeerRanges:2 '10.0.0.0/33' is not an IP address, an IP-IP range or a CIDR block: the prefix length
    /// 33 is more than 32". Empty when the options are valid.
    /// </summary>
    /// <param name="options">The options to check.</param>
    /// <param name="configurationPath">The configuration section of the options (e.g. "Turn"), prefixed to keys.</param>
    public static IReadOnlyList<string> Validate(PeerAddressPolicyOptions options, string? configurationPath = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        Read(options, configurationPath, errors, out _, out _, out _);
        return errors;
    }

    /// <summary>Builds a policy, or says why the options are invalid (every message of <see cref="Validate"/>, joined by "; ").</summary>
    public static bool TryCreate(
        PeerAddressPolicyOptions options,
        [NotNullWhen(true)] out PeerAddressPolicy? policy,
        [NotNullWhen(false)] out string? error,
        string? configurationPath = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = Validate(options, configurationPath);
        if (errors.Count != 0)
        {
            policy = null;
            error = string.Join("; ", errors);
            return false;
        }

        policy = new PeerAddressPolicy(options);
        error = null;
        return true;
    }

    /// <summary>
    /// May an allocation relay to this peer? The port matters only for the server's own addresses (see
    /// <see cref="PeerAddressPolicyOptions.RelayMinPort"/>). Allocates nothing. The default (family-less) address is
    /// denied.
    /// </summary>
    public bool IsAllowed(in TransportAddress peer) =>
        IPAddressBits.TryCreate(peer, out IPAddressBits bits) && IsAllowed(bits, peer.Port);

    /// <summary>
    /// May an allocation relay to this IP address, whatever the port? The server's own addresses are denied whole, as
    /// with port 0. Allocates nothing.
    /// </summary>
    public bool IsAllowed(IPAddress peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return IPAddressBits.TryCreate(peer, out IPAddressBits bits) && IsAllowed(bits, 0);
    }

    /// <summary>
    /// The category of a peer address, for logs, metrics and tests: the address's own kind, or
    /// <see cref="PeerAddressCategory.ServerOwn"/>. Allowed and denied ranges do not change it. The default
    /// (family-less) address is <see cref="PeerAddressCategory.Unspecified"/>.
    /// </summary>
    public PeerAddressCategory Classify(in TransportAddress peer) =>
        IPAddressBits.TryCreate(peer, out IPAddressBits bits) ? Classify(bits, peer.Port) : PeerAddressCategory.Unspecified;

    /// <summary>As <see cref="Classify(in TransportAddress)"/>, with port 0.</summary>
    public PeerAddressCategory Classify(IPAddress peer)
    {
        ArgumentNullException.ThrowIfNull(peer);
        return IPAddressBits.TryCreate(peer, out IPAddressBits bits) ? Classify(bits, 0) : PeerAddressCategory.Unspecified;
    }

    /// <summary>The decision for an address of this category that no allowed or denied range names.</summary>
    public bool IsAllowedByDefault(PeerAddressCategory category) => category switch
    {
        PeerAddressCategory.Public => true,
        PeerAddressCategory.Loopback => AllowLoopbackPeers,
        PeerAddressCategory.Private => AllowPrivatePeers,
        _ => false,
    };

    private bool IsAllowed(in IPAddressBits peer, int port)
    {
        // The IPv4 address sending to this IPv6 address reaches (mapped, translated, compatible, NAT64), computed once.
        bool translated = PeerAddressClassifier.TryGetTranslatedIPv4(peer, out uint ipv4);
        if (!_denied.IsEmpty && IsDenied(peer, translated, ipv4))
        {
            return false;
        }

        PeerAddressCategory category = Classify(peer, port, translated, ipv4);
        if (!_allowed.IsEmpty)
        {
            bool allowed = category is PeerAddressCategory.ServerOwn or PeerAddressCategory.CloudMetadata
                ? _allowed.ContainsSingle(peer) || (translated && _allowed.ContainsSingleIPv4(ipv4))
                : _allowed.Contains(peer) || (translated && _allowed.ContainsIPv4(ipv4));
            if (allowed)
            {
                return true;
            }
        }

        return IsAllowedByDefault(category);
    }

    private bool IsDenied(in IPAddressBits peer, bool translated, uint ipv4)
    {
        if (_denied.Contains(peer))
        {
            return true;
        }

        if (translated)
        {
            return _denied.ContainsIPv4(ipv4);
        }

        int count = PeerAddressClassifier.GetTunnelIPv4(peer, out uint first, out uint second);
        return (count >= 1 && _denied.ContainsIPv4(first)) || (count == 2 && _denied.ContainsIPv4(second));
    }

    private PeerAddressCategory Classify(in IPAddressBits peer, int port) =>
        Classify(peer, port, PeerAddressClassifier.TryGetTranslatedIPv4(peer, out uint ipv4), ipv4);

    private PeerAddressCategory Classify(in IPAddressBits peer, int port, bool translated, uint ipv4)
    {
        PeerAddressCategory category = translated
            ? PeerAddressClassifier.ClassifyTranslated(peer, ipv4)
            : PeerAddressClassifier.ClassifyNative(peer);
        bool ordinaryUnicast = category is PeerAddressCategory.Public or PeerAddressCategory.Private
            or PeerAddressCategory.CarrierGradeNat or PeerAddressCategory.Benchmarking or PeerAddressCategory.Documentation;
        return ordinaryUnicast && _serverAddresses.Length != 0 && !IsRelayPort(port) && IsServerAddress(peer, translated, ipv4)
            ? PeerAddressCategory.ServerOwn
            : category;
    }

    // Another allocation's relayed address on this server: a relay-relay ICE pair, not a loop (RFC 8656 §21.1.7
    // is about the listening address; the relayed address of the peer's allocation only delivers to its client).
    private bool IsRelayPort(int port) => _relayMinPort != 0 && port >= _relayMinPort && port <= _relayMaxPort;

    private bool IsServerAddress(in IPAddressBits peer, bool translated, uint ipv4)
    {
        foreach (IPAddressBits server in _serverAddresses)
        {
            if (server.Equals(peer) || (translated && !server.IsIPv6 && server.IPv4 == ipv4))
            {
                return true;
            }
        }

        return false;
    }

    private static void Read(
        PeerAddressPolicyOptions options,
        string? configurationPath,
        List<string> errors,
        out IPAddressRange[] allowed,
        out IPAddressRange[] denied,
        out IPAddressBits[] serverAddresses)
    {
        string prefix = string.IsNullOrEmpty(configurationPath) ? string.Empty : configurationPath + ":";
        allowed = ReadRanges(options.AllowedPeerRanges, prefix + nameof(PeerAddressPolicyOptions.AllowedPeerRanges), errors);
        denied = ReadRanges(options.DeniedPeerRanges, prefix + nameof(PeerAddressPolicyOptions.DeniedPeerRanges), errors);

        string serverKey = prefix + nameof(PeerAddressPolicyOptions.ServerAddresses);
        var servers = new List<IPAddressBits>();
        if (options.ServerAddresses is { } addresses)
        {
            for (int i = 0; i < addresses.Count; i++)
            {
                if (addresses[i] is not { } address || !IPAddressBits.TryCreate(address, out IPAddressBits bits))
                {
                    errors.Add(string.Create(CultureInfo.InvariantCulture, $"{serverKey}:{i} is not an IPv4 or IPv6 address"));
                    continue;
                }

                // A server address given as ::ffff:a.b.c.d (dual-stack socket) is the IPv4 address.
                servers.Add(PeerAddressClassifier.TryGetTranslatedIPv4(bits, out uint ipv4) ? IPAddressBits.FromIPv4(ipv4) : bits);
            }
        }

        serverAddresses = [.. servers];

        int min = options.RelayMinPort;
        int max = options.RelayMaxPort;
        bool none = min == 0 && max == 0;
        if (!none && (min < 1 || max > ushort.MaxValue || min > max))
        {
            errors.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"{prefix}{nameof(PeerAddressPolicyOptions.RelayMinPort)}={min} and {prefix}{nameof(PeerAddressPolicyOptions.RelayMaxPort)}={max} are not a port range (both 0, or 1 <= min <= max <= 65535)"));
        }
    }

    private static IPAddressRange[] ReadRanges(IList<string>? entries, string key, List<string> errors)
    {
        if (entries is null || entries.Count == 0)
        {
            return [];
        }

        var ranges = new List<IPAddressRange>(entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            string? entry = entries[i];
            if (IPAddressRange.TryParse(entry.AsSpan(), out IPAddressRange range, out string? reason))
            {
                ranges.Add(range);
            }
            else
            {
                errors.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"{key}:{i} '{entry}' is not an IP address, an IP-IP range or a CIDR block: {reason}"));
            }
        }

        return [.. ranges];
    }
}

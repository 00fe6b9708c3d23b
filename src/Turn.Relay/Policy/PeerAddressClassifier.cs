namespace Turn.Relay.Policy;

/// <summary>
/// The fixed part of the peer address policy: what an address is, from the IANA special-purpose registries
/// (RFC 6890 and its updates) and the cloud metadata endpoints. Pure functions over integers, no allocation.
/// </summary>
internal static class PeerAddressClassifier
{
    // IPv4 constants, network byte order read as a big-endian integer.
    private const uint CgnatAlibabaMetadata = 0x6464_64C8; // 100.100.100.200: Alibaba Cloud metadata service
    private const uint LinkLocalMetadata = 0xA9FE_A9FE;    // 169.254.169.254: AWS, GCP, Azure, OpenStack, Oracle...
    private const uint AzureWireServer = 0xA83F_8110;      // 168.63.129.16: Azure platform virtual IP (WireServer)

    // fd00:ec2::254: the AWS instance metadata service over IPv6 (Nitro instances).
    private const ulong AwsMetadataV6High = 0xFD00_0EC2_0000_0000;
    private const ulong AwsMetadataV6Low = 0x0000_0000_0000_0254;

    private const ulong Nat64WellKnownHigh = 0x0064_FF9B_0000_0000; // 64:ff9b::/96 (RFC 6052 §2.1)
    private const ulong Nat64LocalUseHigh = 0x0064_FF9B_0001_0000;  // 64:ff9b:1::/48 (RFC 8215)

    public static PeerAddressCategory Classify(in IPAddressBits address) =>
        TryGetTranslatedIPv4(address, out uint embedded) ? ClassifyTranslated(address, embedded) : ClassifyNative(address);

    /// <summary>An address that <see cref="TryGetTranslatedIPv4"/> maps to <paramref name="embedded"/>.</summary>
    public static PeerAddressCategory ClassifyTranslated(in IPAddressBits address, uint embedded)
    {
        PeerAddressCategory category = ClassifyIPv4(embedded);

        // IPv4-compatible ::/96 (deprecated, RFC 4291 §2.5.5.1; it served automatic tunnelling, RFC 4213 §1) and
        // IPv4-translated ::ffff:0:0:0/96 (RFC 2765, dropped by RFC 6145 for RFC 6052 prefixes) are obsolete: no
        // real peer has one. A denied IPv4 address inside keeps its category (for logs); a public one is Reserved.
        bool obsoleteForm = address.High == 0 && (address.Low >> 32) != 0x0000_FFFF;
        return obsoleteForm && category == PeerAddressCategory.Public ? PeerAddressCategory.Reserved : category;
    }

    /// <summary>An address that <see cref="TryGetTranslatedIPv4"/> does not translate.</summary>
    public static PeerAddressCategory ClassifyNative(in IPAddressBits address) =>
        address.IsIPv6 ? ClassifyIPv6(address.High, address.Low) : ClassifyIPv4(address.IPv4);

    /// <summary>RFC 6890 §2.2.2 and the IANA IPv4 special-purpose address registry.</summary>
    public static PeerAddressCategory ClassifyIPv4(uint a)
    {
        switch (a >> 24)
        {
            case 0:
                // 0.0.0.0/8 "this network" (RFC 791, RFC 1122 §3.2.1.3): 0.0.0.0 reaches the host itself on most
                // stacks, the bypass of coturn CVE-2020-26262.
                return PeerAddressCategory.Unspecified;
            case 10:
                return PeerAddressCategory.Private; // 10.0.0.0/8 (RFC 1918)
            case 127:
                return PeerAddressCategory.Loopback; // 127.0.0.0/8 (RFC 1122 §3.2.1.3)
        }

        if ((a & 0xFFC0_0000) == 0x6440_0000)
        {
            // 100.64.0.0/10 shared address space (RFC 6598).
            return a == CgnatAlibabaMetadata ? PeerAddressCategory.CloudMetadata : PeerAddressCategory.CarrierGradeNat;
        }

        if ((a & 0xFFFF_0000) == 0xA9FE_0000)
        {
            // 169.254.0.0/16 link local (RFC 3927).
            return a == LinkLocalMetadata ? PeerAddressCategory.CloudMetadata : PeerAddressCategory.LinkLocal;
        }

        if ((a & 0xFFF0_0000) == 0xAC10_0000 || (a & 0xFFFF_0000) == 0xC0A8_0000)
        {
            return PeerAddressCategory.Private; // 172.16.0.0/12, 192.168.0.0/16 (RFC 1918)
        }

        switch (a & 0xFFFF_FF00)
        {
            case 0xC000_0000:
                // 192.0.0.0/24 IETF protocol assignments (RFC 6890 §2.2.2): DS-Lite B4 192.0.0.0/29 (RFC 6333),
                // dummy 192.0.0.8 (RFC 7600), PCP and TURN anycast 192.0.0.9-10 (RFC 7723, RFC 8155), NAT64
                // discovery 192.0.0.170-171 (RFC 7050). None is a peer a client could need.
                return PeerAddressCategory.Reserved;
            case 0xC000_0200: // 192.0.2.0/24 TEST-NET-1 (RFC 5737)
            case 0xC633_6400: // 198.51.100.0/24 TEST-NET-2 (RFC 5737)
            case 0xCB00_7100: // 203.0.113.0/24 TEST-NET-3 (RFC 5737)
                return PeerAddressCategory.Documentation;
            case 0xC058_6300:
                // 192.88.99.0/24 6to4 relay anycast (RFC 3068, deprecated by RFC 7526): the IPv4 end of 6to4
                // tunnels, "known to be tunneled" (RFC 8656 §21.4).
                return PeerAddressCategory.Tunneled;
        }

        if ((a & 0xFFFE_0000) == 0xC612_0000)
        {
            return PeerAddressCategory.Benchmarking; // 198.18.0.0/15 (RFC 2544, RFC 6815)
        }

        switch (a >> 28)
        {
            case 0xE:
                return PeerAddressCategory.Multicast; // 224.0.0.0/4 (RFC 5771)
            case 0xF:
                return PeerAddressCategory.Reserved; // 240.0.0.0/4 (RFC 1112 §4) incl. 255.255.255.255 (RFC 919)
        }

        // A Microsoft-owned public address that Azure routes to the host's platform agent; no peer lives there.
        return a == AzureWireServer ? PeerAddressCategory.CloudMetadata : PeerAddressCategory.Public;
    }

    /// <summary>RFC 4291 §2.4, the IANA IPv6 address space and special-purpose registries; translated forms excluded.</summary>
    private static PeerAddressCategory ClassifyIPv6(ulong high, ulong low)
    {
        if (high == 0)
        {
            // ::/128 (RFC 4291 §2.5.2) and ::1 (§2.5.3); every other ::/96, ::ffff:0:0/96 and ::ffff:0:0:0/96
            // address was judged by its IPv4 address already, so what is left of ::/64 is IETF reserved.
            return low switch
            {
                0 => PeerAddressCategory.Unspecified,
                1 => PeerAddressCategory.Loopback,
                _ => PeerAddressCategory.Reserved,
            };
        }

        if (high == AwsMetadataV6High && low == AwsMetadataV6Low)
        {
            return PeerAddressCategory.CloudMetadata; // inside fc00::/7, but never to be unlocked with it
        }

        uint first16 = (uint)(high >> 48);
        if ((first16 & 0xFF00) == 0xFF00)
        {
            return PeerAddressCategory.Multicast; // ff00::/8 (RFC 4291 §2.7)
        }

        if ((first16 & 0xFFC0) == 0xFE80)
        {
            return PeerAddressCategory.LinkLocal; // fe80::/10 (RFC 4291 §2.5.6)
        }

        if ((first16 & 0xFFC0) == 0xFEC0 || (first16 & 0xFE00) == 0xFC00)
        {
            // fec0::/10 site-local, deprecated (RFC 3879) but still the private addressing of old networks;
            // fc00::/7 unique local (RFC 4193).
            return PeerAddressCategory.Private;
        }

        if ((first16 & 0xE000) != 0x2000)
        {
            // Outside 2000::/3 global unicast (RFC 4291 §2.4, IANA "Reserved by IETF"): the rest of ::/8 and
            // 64:ff9b::/16, 100::/64 discard-only (RFC 6666), 5f00::/16 SRv6 SIDs (RFC 9602)...
            return PeerAddressCategory.Reserved;
        }

        uint first32 = (uint)(high >> 32);
        if (first32 == 0x2001_0000 || first16 == 0x2002)
        {
            // Teredo 2001::/32 (RFC 4380) and 6to4 2002::/16 (RFC 3056): RFC 8656 §21.4 MUST NOT accept.
            return PeerAddressCategory.Tunneled;
        }

        if ((high >> 16) == 0x2001_0002_0000)
        {
            return PeerAddressCategory.Benchmarking; // 2001:2::/48 (RFC 5180)
        }

        if (first32 == 0x2001_0DB8 || (high >> 44) == 0x3_FFF0)
        {
            return PeerAddressCategory.Documentation; // 2001:db8::/32 (RFC 3849), 3fff::/20 (RFC 9637)
        }

        if ((first32 & 0xFFFF_FE00) == 0x2001_0000)
        {
            // 2001::/23 IETF protocol assignments (RFC 2928, RFC 6890): ORCHID, AMT, AS112, PCP/TURN anycast...
            return PeerAddressCategory.Reserved;
        }

        return PeerAddressCategory.Public;
    }

    /// <summary>
    /// The IPv4 address an IPv6 address translates to: the forms where sending to the IPv6 address sends to the IPv4
    /// address (checklist item 98). False for :: and ::1 (judged as themselves) and for tunnels.
    /// </summary>
    public static bool TryGetTranslatedIPv4(in IPAddressBits address, out uint ipv4)
    {
        ulong high = address.High;
        ulong low = address.Low;
        ipv4 = (uint)low;
        if (!address.IsIPv6)
        {
            return false;
        }

        if (high == 0)
        {
            return (low >> 32) switch
            {
                0x0000_FFFF => true,      // ::ffff:0:0/96 IPv4-mapped (RFC 4291 §2.5.5.2)
                0xFFFF_0000 => true,      // ::ffff:0:0:0/96 IPv4-translated (RFC 2765 §2.1)
                0 => low > 1,             // ::/96 IPv4-compatible, deprecated (RFC 4291 §2.5.5.1), but :: and ::1
                _ => false,
            };
        }

        if (high == Nat64WellKnownHigh && (low >> 32) == 0)
        {
            return true; // 64:ff9b::/96 well-known NAT64 prefix (RFC 6052 §2.1): IPv4 in the last 32 bits
        }

        // 64:ff9b:1::/48 local-use NAT64 (RFC 8215). The operator picks the prefix length inside it; we assume a /96
        // (IPv4 in the last 32 bits, as RFC 8215 §4 expects for most uses). A translator configured with a shorter
        // RFC 6052 §2.2 layout puts the IPv4 bits elsewhere: deny 64:ff9b:1::/48 explicitly in that case.
        return (high & 0xFFFF_FFFF_FFFF_0000) == Nat64LocalUseHigh;
    }

    /// <summary>
    /// The IPv4 addresses a tunnel address leads to: the 6to4 router (RFC 3056 §2, bits 16-47), or the Teredo server
    /// (bits 32-63) and client (the last 32 bits, inverted) (RFC 4380 §4). Returns how many were written.
    /// </summary>
    public static int GetTunnelIPv4(in IPAddressBits address, out uint first, out uint second)
    {
        first = 0;
        second = 0;
        if (!address.IsIPv6)
        {
            return 0;
        }

        ulong high = address.High;
        if ((high >> 48) == 0x2002)
        {
            first = (uint)(high >> 16);
            return 1;
        }

        if ((high >> 32) == 0x2001_0000)
        {
            first = (uint)high;
            second = ~(uint)address.Low;
            return 2;
        }

        return 0;
    }
}

using System.Net;

namespace Turn.Server;

/// <summary>Parses coturn's --external-ip values: "PUBLIC" or "PUBLIC/PRIVATE" (cloud 1:1 NAT).</summary>
public static class ExternalAddressMap
{
    public static bool TryParse(string value, out IPAddress? publicAddress, out IPAddress? privateAddress)
    {
        publicAddress = null;
        privateAddress = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        string[] parts = value.Split('/', 2);
        if (!IPAddress.TryParse(parts[0], out publicAddress))
        {
            return false;
        }

        if (parts.Length == 2 && (!IPAddress.TryParse(parts[1], out privateAddress) || privateAddress.AddressFamily != publicAddress.AddressFamily))
        {
            publicAddress = null;
            privateAddress = null;
            return false;
        }

        return true;
    }
}

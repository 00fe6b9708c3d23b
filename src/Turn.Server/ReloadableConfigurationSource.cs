using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace Turn.Server;

/// <summary>
/// The last configuration source of the host: empty at start, and after a validated reload it holds the new values of
/// the sections that are read live (Logging), so the log filters follow a reload. Nothing else writes to it; the
/// files behind the other sources are not watched by the host (a reload is validated whole first).
/// </summary>
public sealed class ReloadableConfigurationSource : IConfigurationSource
{
    private readonly Provider _provider = new();

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    /// <summary>Replaces the values (a null value hides the key of earlier sources) and signals the change.</summary>
    public void Set(IReadOnlyDictionary<string, string?> values) => _provider.Set(values);

    private sealed class Provider : ConfigurationProvider
    {
        public void Set(IReadOnlyDictionary<string, string?> values)
        {
            Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
            OnReload();
        }
    }
}

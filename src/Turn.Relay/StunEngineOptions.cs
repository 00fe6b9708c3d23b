namespace Turn.Relay;

/// <summary>What the protocol engine needs from configuration; a frozen snapshot taken at start.</summary>
public sealed record StunEngineOptions
{
    /// <summary>RFC 8489 §14.14: the SOFTWARE attribute of responses; null or empty leaves it out.</summary>
    public string? Software { get; init; }
}

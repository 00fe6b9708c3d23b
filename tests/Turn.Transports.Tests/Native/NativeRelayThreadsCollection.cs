namespace Turn.Transports.Tests.Native;

/// <summary>
/// Tests that start relay poller threads run one at a time, so a test can tell its own poller's threads from the
/// others' by their names.
/// </summary>
[CollectionDefinition(Name)]
public sealed class NativeRelayThreadsCollection
{
    public const string Name = "Native relay threads";
}

namespace Turn.Relay.Allocations;

/// <summary>The transport a request came in on, able to make a sender back to that client for a new allocation.</summary>
public interface IClientTransport
{
    IClientSender CreateSender(in FiveTuple tuple);
}

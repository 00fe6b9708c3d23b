namespace Turn.Benchmarks;

/// <summary>The credentials and texts the codec benchmarks put in their messages (RFC 5769 short-term example values).</summary>
internal static class CodecSamples
{
    public const string Software = "turn-bench 1.0";
    public const string Username = "evtj:h6vY";
    public const string Realm = "example.org";
    public const string Password = "VOkJxbRl1RmTxUk/WvJxBt";
    public const string Nonce = "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA";
}

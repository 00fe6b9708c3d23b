namespace Turn.Stun;

/// <summary>RFC 8489 §18.5: password algorithm numbers of PASSWORD-ALGORITHM(S).</summary>
public enum PasswordAlgorithm : ushort
{
    None = 0x0000,
    Md5 = 0x0001,
    Sha256 = 0x0002,
}

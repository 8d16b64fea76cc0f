/// The bytes `/bytes/N` and `/chunked/N` send, and `SimpleHTTPClient.upload` uploads: `a`...`z` repeating,
/// so byte `i` of a body is `a + i % 26` and a receiver can check integrity without storing it.
public enum PatternBytes {
    /// One block of the pattern, just under 64 KiB and a multiple of 26 bytes long, so consecutive
    /// blocks continue the pattern.
    package static let block: [UInt8] = (0..<(26 * 2520)).map { UInt8(97 + $0 % 26) }

    /// The pattern byte at body offset `i`.
    public static func byte(at i: Int) -> UInt8 { UInt8(97 + i % 26) }
}

/// Detects the HTTP/2 client connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24 bytes)
/// at the start of a buffer, so a cleartext listener can tell h2c prior-knowledge from HTTP/1.
public enum H2Preface {
    /// Outcome of `detect`.
    public enum Result: Sendable, Equatable {
        /// The whole preface is present.
        case h2
        /// The bytes seen so far already differ from the preface.
        case notH2
        /// A proper prefix of the preface: read more bytes and ask again.
        case needMore
    }

    /// Length of the preface in bytes.
    public static let length = 24

    /// Checks the first bytes of `bytes`; never reads past the preface length.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> Result {
        let magic: StaticString = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        let n = min(bytes.count, length)
        let m = magic.utf8Start
        for i in 0..<n where bytes[i] != m[i] {
            return .notH2
        }
        return n == length ? .h2 : .needMore
    }
}

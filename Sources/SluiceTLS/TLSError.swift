import COpenSSL

/// A TLS failure: a bad certificate or key file, a failed handshake, a broken record.
/// The message carries OpenSSL's own reasons so an operator can act on it.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    /// Which file of a context failed to load, so a config error can point at its field.
    public enum Source: Sendable, Hashable {
        /// The PEM certificate chain (a server's, or a client certificate towards backends).
        case certificate
        /// The PEM private key, including a key that does not match the certificate.
        case privateKey
        /// The PEM file of trusted CA certificates.
        case caFile
    }

    /// What failed, followed by the OpenSSL error queue text.
    public let message: String
    /// The file at fault, when a context could not load one (nil for other failures).
    public let source: Source?

    /// The message.
    public var description: String { message }

    init(message: String, source: Source? = nil) {
        self.message = message
        self.source = source
    }

    /// `what`, then every entry of this thread's OpenSSL error queue, which is emptied
    /// so the next connection served by the thread does not inherit stale reasons.
    static func fromQueue(_ what: String, source: Source? = nil) -> TLSError {
        let reasons = OpenSSLErrorQueue.drain()
        return TLSError(message: reasons.isEmpty ? what : what + ": " + reasons, source: source)
    }
}

/// OpenSSL's per-thread error queue.
enum OpenSSLErrorQueue {
    /// Empties the queue, returning its entries joined by "; " (oldest first).
    static func drain() -> String {
        var parts: [String] = []
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            buffer.withUnsafeMutableBufferPointer { ERR_error_string_n(code, $0.baseAddress, $0.count) }
            let text = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            parts.append(String(decoding: text, as: UTF8.self))
        }
        return parts.joined(separator: "; ")
    }

    /// Drops stale entries before an SSL call whose failure we will interpret.
    @inline(__always) static func clear() { ERR_clear_error() }
}

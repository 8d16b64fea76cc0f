import SluiceCore

/// A socket call that failed, with the operation attempted and the errno.
public struct DemoSocketError: Error, CustomStringConvertible, Sendable {
    /// What was attempted, e.g. `connect 127.0.0.1:9901`.
    public let operation: String
    /// The errno value.
    public let code: Int32

    /// Creates an error for `operation` with errno `code`.
    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
    }

    /// `connect 127.0.0.1:9901: Connection refused`.
    public var description: String { "\(operation): \(SocketIO.describe(code))" }
}

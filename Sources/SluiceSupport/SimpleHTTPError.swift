import SluiceCore

/// Why a `SimpleHTTPClient` request failed.
public enum SimpleHTTPError: Error, CustomStringConvertible, Sendable {
    /// The TCP connection could not be made (e.g. connection refused: nothing listens there).
    case connect(SocketError)
    /// Reading or writing failed after connecting (e.g. connection reset).
    case io(SocketError)
    /// No byte arrived within the client's timeout.
    case timedOut(String)
    /// The peer closed the connection before the response was complete.
    case connectionClosed(String)
    /// The response broke HTTP/1.1 framing.
    case malformedResponse(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .connect(let e): "cannot connect: \(e)"
        case .io(let e): "I/O error: \(e)"
        case .timedOut(let what): "timed out \(what)"
        case .connectionClosed(let what): "connection closed \(what)"
        case .malformedResponse(let why): "malformed response: \(why)"
        }
    }
}

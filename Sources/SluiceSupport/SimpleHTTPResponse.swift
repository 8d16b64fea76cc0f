import Foundation

/// One header field of a `SimpleHTTPResponse`.
public struct SimpleHTTPField: Sendable, Equatable {
    /// The field name, lowercased.
    public var name: String
    /// The field value, trimmed of surrounding whitespace.
    public var value: String

    /// Creates a field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A response read by `SimpleHTTPClient`.
public struct SimpleHTTPResponse: Sendable {
    /// The status code.
    public var status: Int
    /// Header fields in order, names lowercased.
    public var headers: [SimpleHTTPField]
    /// The decoded body (empty when the request asked not to collect it).
    public var body: [UInt8]
    /// The decoded body length in bytes, collected or not.
    public var bodyLength: Int
    /// Whether the body arrived with chunked transfer coding.
    public var wasChunked: Bool
    /// Whether the request went over a connection that had already carried an earlier request.
    public var reusedConnection: Bool
    /// Time from sending the request to the end of the response, in microseconds.
    public var elapsedMicros: UInt64

    /// Creates a response value.
    public init(status: Int, headers: [SimpleHTTPField], body: [UInt8], bodyLength: Int, wasChunked: Bool,
                reusedConnection: Bool, elapsedMicros: UInt64) {
        self.status = status
        self.headers = headers
        self.body = body
        self.bodyLength = bodyLength
        self.wasChunked = wasChunked
        self.reusedConnection = reusedConnection
        self.elapsedMicros = elapsedMicros
    }

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// Every value of header `name` (case-insensitive), in order.
    public func headerValues(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name == lower }.map(\.value)
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as a JSON object, or nil if it is not one.
    public func jsonObject() -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}

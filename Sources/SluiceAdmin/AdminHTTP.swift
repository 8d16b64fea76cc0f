import Foundation
import SluiceHTTP1

/// One admin request, copied out of the socket buffer (the admin API is not the hot path).
struct AdminRequest: Sendable {
    /// Method as sent, e.g. `GET`.
    var method: String
    /// Percent-decoded path segments after the leading `/` (`/routes/a/assign` → `["routes", "a", "assign"]`).
    var segments: [String]
    /// The raw path (without the query), for logs.
    var path: String
    /// Query parameters, percent-decoded (`+` is a space); the first occurrence of a name wins.
    var query: [String: String]
    /// Header fields with lowercased names, in order of appearance.
    var headers: [(name: String, value: String)]
    /// The request body (Content-Length framed, at most `AdminConnection.maxBodyBytes`).
    var body: [UInt8]

    /// Value of the first header named `lowercaseName`.
    func header(_ lowercaseName: String) -> String? {
        headers.first { $0.name == lowercaseName }?.value
    }

    /// Splits a request-target into path, segments and query. Absolute-form targets lose their
    /// scheme and authority; an undecodable segment makes the request malformed (nil).
    static func splitTarget(_ target: String) -> (path: String, segments: [String], query: [String: String])? {
        var rest = Substring(target)
        if !rest.hasPrefix("/") {
            guard let scheme = rest.range(of: "://") else { return nil }
            rest = rest[scheme.upperBound...]
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        let path: Substring
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            path = rest[..<q]
            for pair in rest[rest.index(after: q)...].split(separator: "&", omittingEmptySubsequences: true) {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard let name = percentDecode(parts[0], plusIsSpace: true) else { return nil }
                let value = parts.count > 1 ? percentDecode(parts[1], plusIsSpace: true) : ""
                guard let value else { return nil }
                if query[name] == nil { query[name] = value }
            }
        } else {
            path = rest
        }
        var segments: [String] = []
        for raw in path.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            guard let s = percentDecode(raw, plusIsSpace: false) else { return nil }
            segments.append(s)
        }
        return (String(path), segments, query)
    }

    /// Decodes `%XX` escapes (and `+` when asked); nil for a broken escape or invalid UTF-8.
    static func percentDecode(_ s: Substring, plusIsSpace: Bool) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next(), let l = it.next(), let hv = hexValue(h), let lv = hexValue(l) else { return nil }
                bytes.append(hv << 4 | lv)
            } else if b == UInt8(ascii: "+") && plusIsSpace {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Value of one hex digit.
    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// One admin response; every response closes the connection.
struct AdminResponse: Sendable {
    /// Status code.
    var status: Int
    /// `Content-Type` value.
    var contentType: String
    /// Extra header fields (`Allow`, `WWW-Authenticate`).
    var headers: [(name: String, value: String)] = []
    /// The body.
    var body: [UInt8]

    /// `application/json` response.
    static func json(_ status: Int, _ value: JSONValue) -> AdminResponse {
        AdminResponse(status: status, contentType: "application/json", body: value.serialized)
    }

    /// `text/plain` response; a newline is appended.
    static func text(_ status: Int, _ text: String) -> AdminResponse {
        AdminResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }

    /// The uniform error shape `{"error": CODE, "message": ...}` plus optional extra members.
    static func error(_ status: Int, _ code: String, _ message: String,
                      extra: [(String, JSONValue)] = []) -> AdminResponse {
        json(status, .members([("error", .string(code)), ("message", .string(message))] + extra))
    }

    /// An HTTP/1 parse error, answered with its own status and code.
    static func error(_ e: HTTP1Error) -> AdminResponse {
        error(e.status, e.code, e.message)
    }

    /// The full HTTP/1.1 message: status line, headers (`Connection: close`), body.
    var serialized: [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "Cache-Control: no-store\r\n"
        for h in headers { head += "\(h.name): \(h.value)\r\n" }
        head += "Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// Reason phrase of the statuses the admin API uses.
    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 417: return "Expectation Failed"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Status \(status)"
        }
    }
}

/// Decoding of the small JSON request bodies the admin API accepts.
enum JSONBody {
    /// The body as a JSON object, or nil when it is not valid JSON or not an object.
    static func object(_ body: [UInt8]) -> [String: Any]? {
        guard let value = try? JSONSerialization.jsonObject(with: Data(body), options: []) else { return nil }
        return value as? [String: Any]
    }

    /// The body as `{"BACKEND": percent, ...}`: an object whose every value is a number.
    /// Returns the reason when it is not.
    static func weights(_ body: [UInt8]) -> Result<[String: Double], WeightsBodyError> {
        guard !body.isEmpty else { return .failure(.init(message: "empty body: expected {\"BACKEND\": percent, ...}")) }
        do {
            let weights = try JSONDecoder().decode([String: Double].self, from: Data(body))
            guard !weights.isEmpty else {
                return .failure(.init(message: "no weights given: expected {\"BACKEND\": percent, ...}"))
            }
            return .success(weights)
        } catch {
            if JSONBody.object(body) == nil {
                return .failure(.init(message: "body is not a JSON object: expected {\"BACKEND\": percent, ...}"))
            }
            return .failure(.init(message: "every weight must be a number (percent): expected {\"BACKEND\": percent, ...}"))
        }
    }

    /// Why a weights body was refused.
    struct WeightsBodyError: Error, Sendable {
        /// The operator-facing reason.
        var message: String
    }
}

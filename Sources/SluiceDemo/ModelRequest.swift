/// One request as the `ModelServer` sees it: its head decoded into strings, and its body
/// (kept in memory only for endpoints that need it; always counted).
struct ModelRequest: Sendable {
    /// The method, e.g. `POST`.
    var method: String
    /// The path without the query, e.g. `/v1/models/fraud-detector/predict`.
    var path: String
    /// The query without `?` (empty if none).
    var query: String
    /// Header fields in order, names lowercased.
    var headers: [(name: String, value: String)]
    /// The body bytes (kept only for the predict endpoints; empty otherwise).
    var body: [UInt8]
    /// Body length in bytes, whether kept or not.
    var bodyLength: Int
    /// Whether the method is HEAD (no response body is sent).
    var isHEAD: Bool

    /// The first value of header `name` (lowercase).
    func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// Whether the endpoint for `path` needs the body in memory: only the predict endpoints do; the others
    /// (`/echo`, `/sink`, ...) only count it, so huge uploads stream through in constant memory.
    static func keepsBody(path: String) -> Bool {
        if case .predict = ModelEndpoints.classify(path) { return true }
        return false
    }
}

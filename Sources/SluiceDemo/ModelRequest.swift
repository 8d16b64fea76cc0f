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
    /// The body bytes (empty when the endpoint does not keep bodies).
    var body: [UInt8]
    /// Body length in bytes, whether kept or not.
    var bodyLength: Int
    /// Whether the method is HEAD (no response body is sent).
    var isHEAD: Bool

    /// The first value of header `name` (lowercase).
    func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// Whether the endpoint for `method` `path` reads the body into memory (all but `/sink`).
    static func keepsBody(method: String, path: String) -> Bool {
        path != "/sink"
    }
}

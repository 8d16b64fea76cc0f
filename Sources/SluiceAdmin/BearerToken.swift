import Foundation

/// The admin token every POST must present as `Authorization: Bearer <token>`.
///
/// Read once at start from `admin.token_file` (surrounding whitespace trimmed); compared in constant
/// time so response timing does not reveal how much of a guess was right.
struct BearerToken: Sendable {
    /// The token bytes.
    let bytes: [UInt8]

    /// Wraps a token; empty tokens are refused by `load`.
    init(_ token: String) {
        bytes = Array(token.utf8)
    }

    /// Reads the token file. Throws `AdminStartError` when it is unreadable or empty.
    static func load(path: String) throws(AdminStartError) -> BearerToken {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw AdminStartError("cannot read admin token file \(path): \(error.localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw AdminStartError("admin token file \(path) is empty")
        }
        return BearerToken(token)
    }

    /// Whether an `Authorization` header value carries this token (`Bearer` scheme, case-insensitive).
    func accepts(authorization: String?) -> Bool {
        guard let value = authorization else { return false }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let scheme = "bearer "
        guard trimmed.count > scheme.count, trimmed.prefix(scheme.count).lowercased() == scheme else { return false }
        let presented = trimmed.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
        return Self.constantTimeEquals(Array(presented.utf8), bytes)
    }

    /// Equality whose running time depends only on the longer length: XOR-accumulates every position
    /// up to the longer input (missing bytes read as 0) and folds in the length difference.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = max(a.count, b.count)
        var diff = UInt64(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= UInt64(x ^ y)
        }
        return diff == 0
    }
}

/// Why the admin server could not start (token file, address, socket).
public struct AdminStartError: Error, Sendable, CustomStringConvertible {
    /// The operator-facing reason.
    public let message: String

    /// Creates an error with its reason.
    public init(_ message: String) {
        self.message = message
    }

    /// The reason.
    public var description: String { message }
}

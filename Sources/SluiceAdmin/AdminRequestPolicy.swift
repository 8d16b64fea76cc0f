import SluiceConfig

/// Decides, before any handler runs, whether an admin request may be served at all. It keeps web pages
/// from driving the admin API through a browser:
///
/// 1. `Host`, when present and not empty, must name an allowed host (below): a DNS-rebinding page
///    reaches the port under its own DNS name, and an IP literal cannot be rebound. → 403 `forbidden`.
/// 2. `OPTIONS` (a CORS preflight) → 405 `method_not_allowed`; the admin API never sends
///    `Access-Control-Allow-*`, so no cross-origin read or non-simple request is ever permitted.
/// 3. Every `Origin` must be `scheme://host[:port]` with an allowed host; `Origin: null` (sandboxed
///    frames, `file:` pages, some redirects) and malformed values are refused. → 403 `forbidden`.
/// 4. A POST must carry `content-type: application/json` (parameters such as `; charset=utf-8` allowed),
///    unless it has neither a body nor a content-type (`curl -X POST .../pause`) or presents the valid
///    bearer token. → 415 `unsupported_media_type`. Forms and `fetch(..., {mode: "no-cors"})` can only
///    send `text/plain`, form or multipart bodies.
///
/// Allowed hosts: IPv4 literals, bracketed IPv6 literals, `localhost` (any case), and the names of
/// `admin.allowed_hosts`; each with or without a port. Requests without `Host` (HTTP/1.0 tools) or
/// without `Origin` (curl, scripts, probes) are allowed. A pure value: no sockets, no clock.
struct AdminRequestPolicy: Sendable, Equatable {
    /// What to do with a request.
    enum Verdict: Sendable, Equatable {
        /// Serve it.
        case allow
        /// Answer `{"error": code, "message": message}` with `status` and serve nothing.
        case refuse(status: Int, code: String, message: String)
    }

    /// Lowercased host names allowed besides IP literals and `localhost`.
    let allowedHosts: Set<String>

    /// Creates a policy; `allowedHosts` are compared case-insensitively.
    init(allowedHosts: [String] = []) {
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    /// The verdict for `request`; `tokenAccepted` says whether it carries the valid bearer token
    /// (false when no token is configured).
    func evaluate(_ request: AdminRequest, tokenAccepted: Bool) -> Verdict {
        for host in request.headers where host.name == "host" {
            let value = trimmed(host.value)
            if !value.isEmpty && !allowsAuthority(value) {
                return .refuse(status: 403, code: "forbidden",
                               message: "Host \(quoted(value)) is not an allowed admin host: use an IP address or localhost, or list the name in admin.allowed_hosts")
            }
        }
        if request.method == "OPTIONS" {
            return .refuse(status: 405, code: "method_not_allowed",
                           message: "the admin API answers no CORS preflight (OPTIONS) and allows no cross-origin requests")
        }
        for origin in request.headers where origin.name == "origin" {
            let value = trimmed(origin.value)
            if value.lowercased() == "null" {
                return .refuse(status: 403, code: "forbidden", message: "requests from an opaque origin (Origin: null) are refused")
            }
            guard let authority = Self.originAuthority(value), allowsAuthority(authority) else {
                return .refuse(status: 403, code: "forbidden",
                               message: "cross-origin request from \(quoted(value)) refused: the Origin's host is not an IP address, localhost or in admin.allowed_hosts")
            }
        }
        if request.method == "POST" && !tokenAccepted {
            let types = request.headers.filter { $0.name == "content-type" }.map(\.value)
            let bare = types.isEmpty && request.body.isEmpty
            let json = types.count == 1 && Self.isJSON(types[0])
            if !bare && !json {
                return .refuse(status: 415, code: "unsupported_media_type",
                               message: "POST requests with a body need content-type: application/json (got \(types.isEmpty ? "none" : quoted(types.joined(separator: ", "))))")
            }
        }
        return .allow
    }

    /// Whether `authority` (`host[:port]`, `[v6][:port]`) names an allowed host. The port, when
    /// present, must be 1 to 5 digits; any port is allowed.
    func allowsAuthority(_ authority: Substring) -> Bool {
        let host: Substring
        let rest: Substring
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return false }
            host = authority[authority.index(after: authority.startIndex)..<close]
            rest = authority[authority.index(after: close)...]
            guard Addresses.isIPv6(String(host)) else { return false }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            rest = authority[colon...]
        } else {
            host = authority
            rest = ""
        }
        if !rest.isEmpty {
            let port = rest.dropFirst()
            guard rest.first == ":", (1...5).contains(port.count), port.allSatisfy({ $0.isASCII && $0.isNumber }), Int(port)! <= 65_535 else {
                return false
            }
        }
        if authority.hasPrefix("[") { return true }
        let name = host.lowercased()
        return Addresses.isIPv4(name) || name == "localhost" || allowedHosts.contains(name)
    }

    /// `host[:port]` of an `Origin` value `scheme://host[:port]`, or nil when it is not that shape
    /// (a path, query, fragment or user info makes it malformed: browsers never send those).
    static func originAuthority(_ origin: Substring) -> Substring? {
        guard let sep = origin.range(of: "://") else { return nil }
        let scheme = origin[..<sep.lowerBound]
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == ".") }) else {
            return nil
        }
        let authority = origin[sep.upperBound...]
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ \t".contains($0) }) else { return nil }
        return authority
    }

    /// Whether a `Content-Type` value is `application/json`, parameters ignored, case-insensitive.
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return trimSpaces(mediaType).lowercased() == "application/json"
    }

    /// A header value without surrounding spaces and tabs.
    private func trimmed(_ value: String) -> Substring {
        Self.trimSpaces(value[...])
    }

    /// `text` without leading and trailing spaces and tabs.
    static func trimSpaces(_ text: Substring) -> Substring {
        var s = text
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }

    /// `"value"`, cut to 100 characters, for messages.
    private func quoted(_ value: some StringProtocol) -> String {
        let cut = value.count > 100 ? String(value.prefix(100)) + "…" : String(value)
        return "\"\(cut)\""
    }
}

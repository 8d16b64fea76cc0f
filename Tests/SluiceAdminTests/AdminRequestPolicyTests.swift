import Testing
@testable import SluiceAdmin

/// `AdminRequestPolicy` without sockets: Host, Origin, preflight and content-type rules.
@Suite("Admin API: request policy")
struct AdminRequestPolicyTests {
    /// A request with the given method, headers (names lowercased as the connection does) and body.
    static func request(_ method: String = "GET", _ headers: [(String, String)] = [], body: String = "") -> AdminRequest {
        AdminRequest(method: method, segments: ["stats"], path: "/stats", query: [:],
                     headers: headers.map { (name: $0.0.lowercased(), value: $0.1) }, body: Array(body.utf8))
    }

    /// The refusal's status and code, or nil when allowed.
    static func refusal(_ verdict: AdminRequestPolicy.Verdict) -> (Int, String)? {
        if case .refuse(let status, let code, _) = verdict { return (status, code) }
        return nil
    }

    let policy = AdminRequestPolicy(allowedHosts: ["Admin.Internal", "sluice-admin"])

    @Test(arguments: [
        "127.0.0.1", "127.0.0.1:9901", "10.1.2.3:80", "0.0.0.0", "[::1]", "[::1]:9901", "[fe80::1]:1",
        "localhost", "LOCALHOST:9901", "localhost:65535", "admin.internal", "ADMIN.INTERNAL:443", "sluice-admin:9901",
    ])
    func allowedHosts(_ host: String) {
        #expect(policy.evaluate(Self.request("GET", [("Host", host)]), tokenAccepted: false) == .allow, "\(host)")
        #expect(policy.evaluate(Self.request("GET", [("Origin", "http://\(host)")]), tokenAccepted: false) == .allow, "\(host)")
    }

    @Test(arguments: [
        "evil.example", "evil.example:9901", "localhost.evil.example", "127.0.0.1.nip.io:9901", "localhost.",
        "admin.internal.evil.example", "[::1", "[not-v6]:1", "::1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:80:80",
        "127.0.0.1:8a", ":9901", "1.2.3", "[::1]x", "localhost:-1",
    ])
    func refusedHosts(_ host: String) {
        let r = Self.refusal(policy.evaluate(Self.request("GET", [("Host", host)]), tokenAccepted: false))
        #expect(r?.0 == 403 && r?.1 == "forbidden", "\(host): \(String(describing: r))")
        // A valid token does not open the Host check.
        #expect(Self.refusal(policy.evaluate(Self.request("POST", [("Host", host)]), tokenAccepted: true))?.0 == 403)
    }

    @Test func noHostOrEmptyHostIsAllowed() {
        #expect(policy.evaluate(Self.request(), tokenAccepted: false) == .allow)
        #expect(policy.evaluate(Self.request("GET", [("Host", "")]), tokenAccepted: false) == .allow)
        #expect(policy.evaluate(Self.request("GET", [("Host", " 127.0.0.1:1 ")]), tokenAccepted: false) == .allow)
    }

    @Test func defaultPolicyAllowsOnlyLiteralsAndLocalhost() {
        let plain = AdminRequestPolicy()
        #expect(plain.evaluate(Self.request("GET", [("Host", "admin.internal")]), tokenAccepted: false) != .allow)
        #expect(plain.evaluate(Self.request("GET", [("Host", "localhost:1")]), tokenAccepted: false) == .allow)
    }

    @Test(arguments: [
        "http://evil.example", "https://evil.example:9901", "null", "NULL", "http://127.0.0.1:9901/", "127.0.0.1:9901",
        "http://", "://127.0.0.1", "http://user@127.0.0.1", "http://127.0.0.1/path", "http://127.0.0.1?x", "1http://127.0.0.1",
        "http://localhost.evil.example",
    ])
    func refusedOrigins(_ origin: String) {
        for method in ["GET", "POST"] {
            let r = Self.refusal(policy.evaluate(Self.request(method, [("Host", "127.0.0.1:9901"), ("Origin", origin)]), tokenAccepted: false))
            #expect(r?.0 == 403 && r?.1 == "forbidden", "\(method) Origin \(origin): \(String(describing: r))")
        }
    }

    @Test func everyOriginFieldIsChecked() {
        let r = policy.evaluate(Self.request("GET", [("Origin", "http://127.0.0.1"), ("Origin", "http://evil.example")]), tokenAccepted: false)
        #expect(Self.refusal(r)?.0 == 403)
    }

    @Test func optionsIsRefusedWith405() {
        let r = Self.refusal(policy.evaluate(Self.request("OPTIONS", [("Host", "127.0.0.1"), ("Origin", "http://127.0.0.1"),
                                                                     ("Access-Control-Request-Method", "POST")]), tokenAccepted: false))
        #expect(r?.0 == 405 && r?.1 == "method_not_allowed")
        #expect(Self.refusal(policy.evaluate(Self.request("OPTIONS"), tokenAccepted: true))?.0 == 405)
    }

    @Test(arguments: [
        "application/json", "application/json; charset=utf-8", "Application/JSON", " application/json ;charset=UTF-8",
    ])
    func jsonPostsAreAllowed(_ type: String) {
        #expect(policy.evaluate(Self.request("POST", [("Content-Type", type)], body: "{}"), tokenAccepted: false) == .allow)
    }

    @Test(arguments: [
        "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
        "application/jsonx", "application/json-patch+json", "",
    ])
    func otherContentTypesAreRefusedWith415(_ type: String) {
        for body in ["{}", ""] {
            let r = Self.refusal(policy.evaluate(Self.request("POST", [("Content-Type", type)], body: body), tokenAccepted: false))
            #expect(r?.0 == 415 && r?.1 == "unsupported_media_type", "\(type) body \(body.count): \(String(describing: r))")
            #expect(policy.evaluate(Self.request("POST", [("Content-Type", type)], body: body), tokenAccepted: true) == .allow)
        }
    }

    @Test func postBodiesNeedAContentType() {
        #expect(policy.evaluate(Self.request("POST"), tokenAccepted: false) == .allow, "curl -X POST .../pause")
        #expect(Self.refusal(policy.evaluate(Self.request("POST", body: "{}"), tokenAccepted: false))?.0 == 415)
        #expect(policy.evaluate(Self.request("POST", body: "{}"), tokenAccepted: true) == .allow)
        let twice = Self.request("POST", [("Content-Type", "application/json"), ("Content-Type", "text/plain")], body: "{}")
        #expect(Self.refusal(policy.evaluate(twice, tokenAccepted: false))?.0 == 415)
        // GETs are not subject to the content-type rule.
        #expect(policy.evaluate(Self.request("GET", [("Content-Type", "text/plain")]), tokenAccepted: false) == .allow)
    }

    @Test func hostIsCheckedBeforeEverythingElse() {
        let r = Self.refusal(policy.evaluate(Self.request("OPTIONS", [("Host", "evil.example")]), tokenAccepted: false))
        #expect(r?.0 == 403)
        let post = Self.refusal(policy.evaluate(Self.request("POST", [("Origin", "http://evil.example"), ("Content-Type", "text/plain")], body: "x"),
                                                tokenAccepted: false))
        #expect(post?.0 == 403)
    }
}

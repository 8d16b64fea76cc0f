import Foundation
import Testing
import SluiceAdmin
import SluiceProxy
import SluiceStats

/// The admin port under hostile clients, over real sockets: concurrency, the per-connection deadline,
/// the connection cap, and the Host / Origin / preflight / content-type rules.
@Suite("Admin API: hardening")
struct AdminHardeningTests {
    /// A 3 s connection deadline keeps the deadline tests short.
    static let shortDeadline = AdminServerLimits(connectionDeadlineNanos: 3_000_000_000)

    /// A process-wide counter's value.
    static func counter(_ f: AdminFixture, _ c: GlobalCounter) -> UInt64 {
        f.control.currentSnapshot.global.counterValues()[c.rawValue]
    }

    /// `GET path` with a Host the policy accepts.
    static func get(_ f: AdminFixture, _ path: String, timeout: Double = 5) throws -> (status: Int, headers: [(String, String)], body: String, seconds: Double) {
        try AdminWire.exchange(port: f.server.address.port, "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(f.server.address.port)\r\n\r\n", timeout: timeout)
    }

    @Test(.timeLimit(.minutes(1)))
    func dribblingAndSilentClientsBlockNothingAndAreClosedByTheDeadline() throws {
        let f = try AdminFixture(limits: Self.shortDeadline)
        defer { f.tearDown() }
        f.control.setReady(true)
        let port = f.server.address.port
        let dribbler = try AdminWire(port: port)
        let silent = try AdminWire(port: port)
        let request = Array("POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}")
        var sent = 0
        var lastDribble = Date.distantPast
        var slowest = 0.0
        for i in 0..<20 {
            if Date().timeIntervalSince(lastDribble) >= 1 && sent < request.count {
                #expect(dribbler.send(String(request[sent])), "dribbler closed early after \(sent) bytes")
                sent += 1
                lastDribble = Date()
            }
            let health = try Self.get(f, "/health")
            #expect(health.status == 200)
            #expect(health.seconds < 0.2, "poll \(i) took \(health.seconds) s")
            slowest = max(slowest, health.seconds)
            if i == 10 {
                // A reload (a POST with its own body) goes through while both slow clients hold connections.
                let reload = try AdminWire.exchange(port: port, "POST /reload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n")
                #expect(reload.status == 200, "\(reload.body)")
                #expect(f.control.currentSnapshot.configVersion == 2)
                #expect(try Self.get(f, "/stats").status == 200)
                #expect(try Self.get(f, "/ready").status == 200)
            }
            usleep(100_000)
        }
        #expect(f.server.activeConnections == 2, "the two slow clients are still being served")
        // Keep dribbling until the server gives up on the connection.
        while !dribbler.readable(within: 0) && Date().timeIntervalSince(dribbler.connectedAt) < 6 {
            if Date().timeIntervalSince(lastDribble) >= 1 { dribbler.send(String(request[min(sent, request.count - 1)])); sent += 1; lastDribble = Date() }
            usleep(20_000)
        }
        let dribbled = dribbler.readToEnd()
        let dribblerLife = Date().timeIntervalSince(dribbler.connectedAt)
        #expect(dribbled.closed)
        #expect(dribbled.text.hasPrefix("HTTP/1.1 408 "), "\(dribbled.text)")
        #expect(dribblerLife > 2.7 && dribblerLife < 4.0, "dribbler closed after \(dribblerLife) s, deadline 3 s")
        let quiet = silent.readToEnd()
        let silentLife = Date().timeIntervalSince(silent.connectedAt)
        #expect(quiet.closed && quiet.text.isEmpty, "\(quiet.text)")
        #expect(silentLife > 2.7 && silentLife < 4.0, "silent client closed after \(silentLife) s, deadline 3 s")
        #expect(Self.counter(f, .adminConnectionTimeouts) == 2)
        #expect(f.control.currentSnapshot.configVersion == 2, "the dribbled reload never ran")
        #expect(try Self.get(f, "/health").status == 200)
    }

    @Test(.timeLimit(.minutes(1)))
    func connectionsOverTheCapAreAnswered503() throws {
        let f = try AdminFixture(limits: AdminServerLimits(maxConnections: 2, connectionDeadlineNanos: 5_000_000_000))
        defer { f.tearDown() }
        let port = f.server.address.port
        var holders = [try AdminWire(port: port), try AdminWire(port: port)]
        let deadline = Date().addingTimeInterval(2)
        while f.server.activeConnections < 2 && Date() < deadline { usleep(5_000) }
        #expect(f.server.activeConnections == 2)
        let busy = try Self.get(f, "/health")
        #expect(busy.status == 503)
        #expect(busy.body.contains(#""error":"busy""#), "\(busy.body)")
        #expect(busy.headers.contains { $0.0 == "retry-after" })
        #expect(busy.seconds < 0.5)
        #expect(Self.counter(f, .adminConnectionsRejected) == 1)
        holders.removeAll()   // the clients close; their slots free at once
        let freed = Date().addingTimeInterval(2)
        while f.server.activeConnections > 0 && Date() < freed { usleep(5_000) }
        #expect(try Self.get(f, "/health").status == 200)
        #expect(Self.counter(f, .adminConnectionTimeouts) == 0)
    }

    @Test func foreignHostIsRefused() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let evil = try Curl.request("GET", f.base + "/stats", headers: ["Host: evil.example:9901"])
        #expect(evil.status == 403)
        #expect(try evil.json["error"] as? String == "forbidden")
        #expect(try (evil.json["message"] as? String)?.contains("evil.example:9901") == true)
        let rebound = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 50, "b": 50}"#,
                                       headers: ["Host: evil.example"])
        #expect(rebound.status == 403)
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
        for host in ["localhost:\(f.server.address.port)", "127.0.0.1", "[::1]:9901", "10.0.0.7:1"] {
            #expect(try Curl.request("GET", f.base + "/health", headers: ["Host: \(host)"]).status == 200, "\(host)")
        }
        #expect(try Curl.request("GET", f.base + "/health", headers: ["Host: admin.internal"]).status == 403)
        #expect(Self.counter(f, .adminRequestsRefused) == 3)
        // HTTP/1.0 without Host is allowed.
        let old = try AdminWire.exchange(port: f.server.address.port, "GET /health HTTP/1.0\r\n\r\n")
        #expect(old.status == 200)
    }

    @Test func allowedHostsFromTheConfigAreAccepted() throws {
        let f = try AdminFixture(allowedHosts: ["admin.internal"])
        defer { f.tearDown() }
        #expect(try Curl.request("GET", f.base + "/health", headers: ["Host: Admin.Internal:9901"]).status == 200)
        #expect(try Curl.request("GET", f.base + "/health", headers: ["Origin: https://admin.internal"]).status == 200)
        #expect(try Curl.request("GET", f.base + "/health", headers: ["Host: other.internal"]).status == 403)
    }

    @Test func crossOriginRequestsAreRefused() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let get = try Curl.request("GET", f.base + "/stats", headers: ["Origin: http://evil.example"])
        #expect(get.status == 403)
        #expect(try get.json["error"] as? String == "forbidden")
        let post = try Curl.request("POST", f.base + "/routes/canary/weights", body: #"{"a": 50, "b": 50}"#,
                                    headers: ["Origin: http://evil.example"])
        #expect(post.status == 403)
        let bare = try Curl.request("POST", f.base + "/reload", headers: ["Origin: http://evil.example"])
        #expect(bare.status == 403)
        let opaque = try Curl.request("POST", f.base + "/reload", headers: ["Origin: null"])
        #expect(opaque.status == 403)
        #expect(f.control.currentSnapshot.configVersion == 1)
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
        let sameSite = try Curl.request("GET", f.base + "/stats", headers: ["Origin: http://127.0.0.1:\(f.server.address.port)"])
        #expect(sameSite.status == 200)
        #expect(!sameSite.headers.keys.contains { $0.hasPrefix("access-control-") })
    }

    @Test func postsWithoutJSONContentTypeAreRefused() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        let url = f.base + "/routes/canary/weights"
        let body = #"{"a": 50, "b": 50}"#
        let plain = try Curl.request("POST", url, extra: ["--data-binary", body, "-H", "content-type: text/plain"])
        #expect(plain.status == 415)
        #expect(try plain.json["error"] as? String == "unsupported_media_type")
        let form = try Curl.request("POST", url, extra: ["-d", body])   // curl's default: x-www-form-urlencoded
        #expect(form.status == 415)
        let emptyForm = try Curl.request("POST", f.base + "/reload", extra: ["-H", "content-type: application/x-www-form-urlencoded"])
        #expect(emptyForm.status == 415)
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
        #expect(f.control.currentSnapshot.configVersion == 1)
        #expect(Self.counter(f, .adminRequestsRefused) == 3)

        let charset = try Curl.request("POST", url, extra: ["--data-binary", body, "-H", "content-type: application/json; charset=utf-8"])
        #expect(charset.status == 200)
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 50, "b": 50])
        // No body and no content-type: `curl -X POST .../reload`.
        #expect(try Curl.request("POST", f.base + "/reload").status == 200)
    }

    @Test func theBearerTokenLiftsTheContentTypeRule() throws {
        let f = try AdminFixture(tokenFileContents: "s3cret")
        defer { f.tearDown() }
        let url = f.base + "/routes/canary/weights"
        let body = #"{"a": 40, "b": 60}"#
        let noToken = try Curl.request("POST", url, extra: ["--data-binary", body, "-H", "content-type: text/plain"])
        #expect(noToken.status == 415)
        let wrongToken = try Curl.request("POST", url, headers: ["Authorization: Bearer nope"],
                                          extra: ["--data-binary", body, "-H", "content-type: text/plain"])
        #expect(wrongToken.status == 415)
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 90, "b": 10])
        let withToken = try Curl.request("POST", url, headers: ["Authorization: Bearer s3cret"],
                                         extra: ["--data-binary", body, "-H", "content-type: text/plain"])
        #expect(withToken.status == 200, "\(withToken.body)")
        #expect(try AdminWriteEndpointsTests.statsWeights(f, route: "canary") == ["a": 40, "b": 60])
        // JSON without the token is still 401.
        #expect(try Curl.request("POST", url, body: body).status == 401)
    }

    @Test func preflightsGet405AndNoCORSHeaders() throws {
        let f = try AdminFixture()
        defer { f.tearDown() }
        for origin in [nil, "http://127.0.0.1", "http://evil.example"] {
            var headers = ["Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type"]
            if let origin { headers.append("Origin: \(origin)") }
            let r = try Curl.request("OPTIONS", f.base + "/routes/canary/weights", headers: headers)
            #expect(r.status == 405, "Origin \(origin ?? "none")")
            #expect(try r.json["error"] as? String == "method_not_allowed")
            #expect(!r.headers.keys.contains { $0.hasPrefix("access-control-") }, "\(r.headers)")
        }
        let allow = try Curl.request("OPTIONS", f.base + "/routes/canary/weights")
        #expect(allow.headers["allow"] == "POST")
        for path in ["/health", "/stats", "/metrics", "/routes/ab/assign?key=u"] {
            let r = try Curl.request("GET", f.base + path, headers: ["Origin: http://localhost:3000"])
            #expect(r.status == 200)
            #expect(!r.headers.keys.contains { $0.hasPrefix("access-control-") }, "\(path): \(r.headers)")
        }
    }
}

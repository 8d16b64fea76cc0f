import Foundation
import Testing
import SluiceDemo
import SluiceSupport

@Suite("ModelServer behavior")
struct ServerBehaviorTests {
    @Test("keep-alive: two requests over one accepted connection")
    func keepAlive() throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        let first = try c.request("GET", "/echo")
        let second = try c.request("POST", "/echo", text: "hello")
        #expect(first.status == 200 && second.status == 200)
        #expect(!first.reusedConnection)
        #expect(second.reusedConnection)
        #expect(c.connectionsOpened == 1)
        #expect(server.acceptedConnections == 1)
        #expect(server.requestsServed == 2)
    }

    @Test("Connection: close ends the connection; the client reconnects")
    func connectionClose() throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        let r = try c.request("GET", "/echo", headers: [("connection", "close")])
        #expect(r.header("connection") == "close")
        #expect(!c.isConnected)
        _ = try c.request("GET", "/echo")
        #expect(server.acceptedConnections == 2)
    }

    @Test("/bytes/N and /chunked/N send N pattern bytes", arguments: [0, 1, 65_519, 65_520, 200_001])
    func sizes(n: Int) throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        let plain = try c.request("GET", "/bytes/\(n)")
        #expect(plain.status == 200)
        #expect(plain.header("content-length") == String(n))
        #expect(!plain.wasChunked)
        #expect(plain.body.count == n)
        #expect(plain.body.enumerated().allSatisfy { $0.element == PatternBytes.byte(at: $0.offset) })
        let chunked = try c.request("GET", "/chunked/\(n)")
        #expect(chunked.wasChunked)
        #expect(chunked.header("transfer-encoding") == "chunked")
        #expect(chunked.body == plain.body)
        #expect(server.acceptedConnections == 1)
    }

    @Test("/echo reports method, path, lowercased headers and body length")
    func echo() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v1"))
        defer { server.stop() }
        let r = try client(for: server).request("POST", "/echo?x=1", headers: [
            ("X-Request-ID", "abc"), ("X-Forwarded-For", "10.1.2.3"), ("x-multi", "a"), ("x-multi", "b"),
        ], text: "twelve bytes")
        let json = try #require(r.jsonObject())
        #expect(json["method"] as? String == "POST")
        #expect(json["path"] as? String == "/echo")
        #expect(json["query"] as? String == "x=1")
        #expect(json["body_length"] as? Int == 12)
        let headers = try #require(json["headers"] as? [String: String])
        #expect(headers["x-request-id"] == "abc")
        #expect(headers["x-forwarded-for"] == "10.1.2.3")
        #expect(headers["x-multi"] == "a, b")
        #expect(headers["host"] == "127.0.0.1:\(server.port)")
        #expect(headers["connection"] == nil)
        #expect((json["header_list"] as? [[String]])?.filter { $0.first == "x-multi" }.count == 2)
        #expect(r.header("x-backend") == "v1")
    }

    @Test("/sink counts Content-Length and chunked uploads without keeping them")
    func sink() throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        let fixed = try c.upload("POST", "/sink", length: 3_000_000)
        #expect(fixed.jsonObject()?["received"] as? Int == 3_000_000)
        let chunked = try c.upload("POST", "/sink", length: 1_000_003, chunked: true)
        #expect(chunked.jsonObject()?["received"] as? Int == 1_000_003)
        // A chunked body to /echo is decoded and counted too, and pipelining state stays right.
        let echo = try c.upload("POST", "/echo", length: 70_000, chunked: true)
        #expect(echo.jsonObject()?["body_length"] as? Int == 70_000)
        #expect(server.acceptedConnections == 1)
    }

    @Test("/status/CODE answers that status")
    func status() throws {
        let server = try startServer()
        defer { server.stop() }
        let c = client(for: server)
        #expect(try c.request("GET", "/status/503").status == 503)
        #expect(try c.request("GET", "/status/204").status == 204)
        #expect(try c.request("GET", "/status/201").status == 201)
        #expect(try c.request("GET", "/nowhere").status == 404)
    }

    @Test("error rate 1.0 answers 500 JSON")
    func errorRate() throws {
        let server = try startServer(ModelBehavior(modelVersion: "bad", errorRate: 1.0))
        defer { server.stop() }
        let c = client(for: server)
        for _ in 0..<5 {
            let r = try c.request("POST", "/v1/models/fraud-detector/predict", text: #"{"inputs": {}}"#)
            #expect(r.status == 500)
            #expect(r.jsonObject()?["error"] as? String == "model_error")
            #expect(r.header("x-backend") == "bad")
        }
        server.setBehavior(ModelBehavior(modelVersion: "good", errorRate: 0))
        #expect(try c.request("POST", "/v1/models/fraud-detector/predict", text: "{}").status == 200)
    }

    @Test("setBehavior changes latency at run time")
    func latency() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v", baseLatencyMicros: 0))
        defer { server.stop() }
        let c = client(for: server)
        let fast = try c.request("GET", "/echo")
        server.setBehavior(ModelBehavior(modelVersion: "v", baseLatencyMicros: 150_000))
        let slow = try c.request("GET", "/echo")
        #expect(slow.elapsedMicros >= 150_000)
        #expect(fast.elapsedMicros < 100_000)
        #expect(server.behavior.baseLatencyMicros == 150_000)
        let extra = try c.request("GET", "/echo", headers: [("x-delay-ms", "100")])
        #expect(extra.elapsedMicros >= 250_000)
    }

    @Test("100 concurrent connections, each a few keep-alive requests")
    func concurrent() throws {
        let server = try startServer(ModelBehavior(modelVersion: "v", baseLatencyMicros: 1_000))
        defer { server.stop() }
        let port = server.port
        let failures = Counter()
        let group = DispatchGroup()
        for i in 0..<100 {
            group.enter()
            Thread {
                defer { group.leave() }
                let c = SimpleHTTPClient(port: port, timeoutSeconds: 10)
                for k in 0..<3 {
                    let body = #"{"request_id": "r\#(i)-\#(k)", "inputs": {"transaction_amount": \#(i)}}"#
                    guard let r = try? c.request("POST", "/v1/models/fraud-detector/predict", text: body),
                          r.status == 200, r.jsonObject()?["request_id"] as? String == "r\(i)-\(k)" else {
                        failures.add()
                        return
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.value == 0)
        #expect(server.acceptedConnections == 100)
        #expect(server.requestsServed == 300)
    }

    @Test("stop closes the listener and open connections")
    func stop() throws {
        let server = try startServer()
        let c = client(for: server, timeout: 2)
        _ = try c.request("GET", "/echo")
        server.stop()
        usleep(50_000)
        #expect(throws: SimpleHTTPError.self) { try c.request("GET", "/echo") }
        #expect(throws: SimpleHTTPError.self) { try SimpleHTTPClient.get(port: server.port, path: "/echo") }
    }
}

/// A thread-safe counter for tests.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    /// Adds one.
    func add() { lock.lock(); n += 1; lock.unlock() }
    /// The count.
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

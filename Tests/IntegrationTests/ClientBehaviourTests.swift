import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
import Testing

extension Integration {
    /// Clients that vanish, read slowly, or pipeline.
    @Suite struct Clients {
        @Test(.timeLimit(.minutes(1)))
        func clientVanishingMidUploadLeavesSluiceServing() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)],
                                                             routeExtra: ["max_request_body: 64MiB"]))
            defer { h.stop() }
            for _ in 0..<3 {
                let s = try RawSocket(port: h.port, timeout: 3)
                s.send("POST /sink HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n")
                let mb = [UInt8](repeating: 0x7A, count: 1024 * 1024)
                #expect(s.send(mb))
                s.close()
            }
            let t0 = Date()
            let r = try Command.curl(["\(h.base)/echo"], timeout: 5)
            #expect(r.status == 200, "\(r.summary)")
            #expect(Date().timeIntervalSince(t0) < 2)
            // The abandoned exchanges are cleaned up: no downstream connection left open.
            #expect(eventually(5) { h.server.openConnections == 0 }, "\(h.server.openConnections) downstream connections still open")
            // And their upstream connections too (the backend sees them close).
            #expect(eventually(3) { backend.openConnections <= 1 }, "backend still has \(backend.openConnections) connections open")
            let after = try SimpleHTTPClient.get(port: h.port, path: "/status/200")
            #expect(after.status == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func slowReaderDoesNotStallOtherClients() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port, requestTimeout: "30s")]))
            defer { h.stop() }
            let latencies = Locked<[Double]>([])
            let errors = Locked<[String]>([])
            let slowRead = Locked(0)
            let finished = runConcurrently(2, timeout: 20) { i in
                if i == 0 {
                    // ~1 MB/s for 2 s from a 50 MB download, then hang up.
                    guard let s = try? RawSocket(port: h.port, timeout: 3, receiveBuffer: 32 * 1024) else {
                        errors.with { $0.append("slow client could not connect") }
                        return
                    }
                    s.send("GET /bytes/52428800 HTTP/1.1\r\nHost: t\r\n\r\n")
                    let start = Date()
                    var total = 0
                    while Date().timeIntervalSince(start) < 2 {
                        guard let b = s.receive(max: 16 * 1024), !b.isEmpty else { break }
                        total += b.count
                        let due = Double(total) / 1_000_000
                        let now = Date().timeIntervalSince(start)
                        if due > now { usleep(useconds_t((due - now) * 1_000_000)) }
                    }
                    slowRead.with { $0 = total }
                    s.close()
                } else {
                    usleep(200_000)
                    let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 3)
                    defer { client.close() }
                    let start = Date()
                    while Date().timeIntervalSince(start) < 1.6 {
                        let t0 = Date()
                        do {
                            let r = try client.request("GET", "/bytes/65536", collectBody: false)
                            if r.status != 200 || r.bodyLength != 65536 { errors.with { $0.append("status \(r.status) len \(r.bodyLength)") } }
                        } catch {
                            errors.with { $0.append("\(error)") }
                        }
                        let dt = Date().timeIntervalSince(t0)
                        latencies.with { $0.append(dt) }
                    }
                }
            }
            #expect(finished)
            #expect(errors.value.isEmpty, "\(errors.value.prefix(5))")
            let l = latencies.value
            #expect(l.count >= 5, "only \(l.count) requests served in 1.6 s next to a slow reader")
            #expect((l.max() ?? 99) < 0.5, "slowest request next to a slow reader took \(l.max() ?? 99) s")
            let read = slowRead.value
            #expect(read > 500_000 && read < 5_000_000, "slow client read \(read) bytes in 2 s")
            #expect(eventually(5) { h.server.openConnections == 0 }, "\(h.server.openConnections) downstream connections still open")
            #expect(try SimpleHTTPClient.get(port: h.port, path: "/status/200").status == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func pipelinedRequestsAreAnsweredInOrder() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }
            let s = try RawSocket(port: h.port, timeout: 3)
            s.send("GET /echo?n=1 HTTP/1.1\r\nHost: t\r\nX-Request-Id: p1\r\n\r\nGET /echo?n=2 HTTP/1.1\r\nHost: t\r\nX-Request-Id: p2\r\n\r\n")
            let a = s.readResponse(), b = s.readResponse()
            #expect(a?.status == 200 && b?.status == 200)
            #expect(a?.json?["query"] as? String == "n=1", "first: \(a?.text ?? "none")")
            #expect(b?.json?["query"] as? String == "n=2", "second: \(b?.text ?? "none")")
            #expect(a?.header("x-request-id") == "p1" && b?.header("x-request-id") == "p2")

            // Three at once, with a body in the middle and a different response framing each.
            s.send("POST /echo?n=3 HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nabcdGET /chunked/3000 HTTP/1.1\r\nHost: t\r\n\r\nGET /status/204 HTTP/1.1\r\nHost: t\r\n\r\nGET /echo?n=5 HTTP/1.1\r\nHost: t\r\n\r\n")
            let c = s.readResponse()
            #expect(c?.json?["query"] as? String == "n=3")
            #expect(c?.json?["body_length"] as? Int == 4)
            let d = s.readResponse()
            #expect(d?.status == 200 && d?.body.count == 3000, "chunked: \(String(describing: d?.status)) \(d?.body.count ?? -1)")
            let e = s.readResponse()
            #expect(e?.status == 204)
            let f = s.readResponse()
            #expect(f?.json?["query"] as? String == "n=5", "fourth: \(f?.text ?? "none")")
        }
    }
}

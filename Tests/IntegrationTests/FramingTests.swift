import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// Response framing and connection management towards unusual backends and HTTP/1.0 clients.
    @Suite struct Framing {
        @Test(.timeLimit(.minutes(1)))
        func responseHopByHopHeadersAreDropped() throws {
            let b = try FaultBackend(.raw("HTTP/1.1 200 OK\r\nConnection: X-Secret\r\nX-Secret: hop\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-End: kept\r\nContent-Length: 2\r\n\r\nok", closeAfterMs: nil))
            defer { b.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: b.port)]))
            defer { h.stop() }
            let s = try RawSocket(port: h.port, timeout: 3)
            for _ in 0..<2 {
                s.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                let r = s.readResponse()
                #expect(r?.status == 200 && r?.text == "ok")
                let names = Set((r?.headers ?? []).map(\.0))
                for hop in ["x-secret", "keep-alive", "proxy-connection", "connection"] {
                    #expect(!names.contains(hop), "client received hop-by-hop \(hop): \(names.sorted())")
                }
                #expect(names.contains("x-end"))
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func closeDelimitedBodyIsRechunkedForHTTP11Clients() throws {
            let b = try FaultBackend(.raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello until close", closeAfterMs: 0))
            defer { b.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: b.port)]))
            defer { h.stop() }
            let s = try RawSocket(port: h.port, timeout: 3)
            for i in 0..<3 {
                s.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                let r = s.readResponse()
                #expect(r?.status == 200, "request \(i)")
                #expect(r?.text == "hello until close", "request \(i): \(r?.text ?? "none")")
                #expect(r?.header("transfer-encoding") == "chunked")
            }
        }

        @Test(.timeLimit(.minutes(1)))
        func backendClosingIdleKeepAliveConnectionsIsInvisible() throws {
            // Answers keep-alive (no Connection: close) and then closes the connection 20 ms later.
            let b = try FaultBackend(.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", closeAfterMs: 20))
            defer { b.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: b.port)]))
            defer { h.stop() }
            let client = SimpleHTTPClient(port: h.port, timeoutSeconds: 3)
            defer { client.close() }
            var statuses: [Int] = []
            for _ in 0..<6 {
                statuses.append((try? client.request("GET", "/x").status) ?? -1)
                usleep(150_000)
            }
            // Back to back too: the close may race the next request; the retry must hide it.
            for _ in 0..<20 { statuses.append((try? client.request("GET", "/x").status) ?? -1) }
            #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
            #expect(client.connectionsOpened == 1)
        }

        @Test(.timeLimit(.minutes(1)))
        func http10ClientGetsADecodedBody() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }
            let s = try RawSocket(port: h.port, timeout: 3)
            s.send("GET /chunked/5000 HTTP/1.0\r\nHost: t\r\n\r\n")
            let r = s.readResponse()
            #expect(r?.status == 200)
            #expect(r?.header("transfer-encoding") == nil, "chunked sent to an HTTP/1.0 client")
            #expect(r?.body.count == 5000, "HTTP/1.0 body: \(r?.body.count ?? -1) bytes")
            let c = try Command.curl(["--http1.0", "-o", "/dev/null", "-w", "%{size_download}", "\(h.base)/bytes/7000"])
            #expect(c.exitCode == 0 && c.body == "7000", "\(c.summary)")
        }
    }
}

import Foundation
import Glibc
import SluiceDemo
import SluiceSupport
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

        /// Runs in a child `sluice run` process: when this breaks, Sluice loops (and may overflow its stack),
        /// which must not take the test process down with it.
        @Test(.timeLimit(.minutes(1)))
        func closeDelimitedBodyIsRechunkedForHTTP11Clients() throws {
            let b = try FaultBackend(.raw("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello until close", closeAfterMs: 0))
            defer { b.stop() }
            let sluice = try CLI.binary()
            let probe = try ClosedPort()
            let port = probe.port
            probe.release()
            let yaml = ProxyHarness.yaml(backends: [.init(name: "only", port: b.port)])
                .replacingOccurrences(of: "127.0.0.1:0", with: "127.0.0.1:\(port)")
            let file = NSTemporaryDirectory() + "sluice-framing-\(UUID().uuidString).yaml"
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: sluice)
            p.arguments = ["run", "--config", file]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            defer {
                if p.isRunning { p.terminate() }
                let deadline = Date().addingTimeInterval(5)
                while p.isRunning && Date() < deadline { usleep(20_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            }
            #expect(eventually(5) { (try? RawSocket(port: port, timeout: 1)) != nil }, "sluice run did not listen on \(port)")
            let s = try RawSocket(port: port, timeout: 3)
            for i in 0..<3 {
                s.send("GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
                let r = s.readResponse()
                // Nothing may follow the response's last chunk (the next response starts clean).
                usleep(100_000)
                s.setTimeout(0.2)
                if let extra = s.receive(), !extra.isEmpty { s.pending += extra }
                s.setTimeout(3)
                #expect(s.pending.isEmpty, "request \(i): \(s.pending.count) stray bytes after the response, starting \(String(decoding: s.pending.prefix(40), as: UTF8.self).debugDescription)")
                #expect(r?.status == 200, "request \(i)")
                #expect(r?.text == "hello until close", "request \(i): \(r?.text ?? "none")")
                #expect(r?.header("transfer-encoding") == "chunked")
                if !s.pending.isEmpty || r == nil { break }
            }
            usleep(200_000)
            #expect(p.isRunning, "sluice crashed (status \(p.isRunning ? 0 : p.terminationStatus)) after a close-delimited response")
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

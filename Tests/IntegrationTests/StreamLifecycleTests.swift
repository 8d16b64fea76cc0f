import Foundation
import Glibc
import SluiceDemo
import SluiceStats
import Testing

extension Integration {
    /// Stream and connection lifecycle on every pair: windows credited whatever way a stream
    /// ends, h2c upgrade requests served over HTTP/1.1, errors on later keep-alive requests answered.
    @Suite struct StreamLifecycle {
        /// The first bytes of an HTTP/2 connection asking for `GET path` on stream 1 (HPACK
        /// literals without indexing and static-table names; END_STREAM and END_HEADERS set).
        static func h2Get(_ path: String) -> [UInt8] { h2Request(post: false, path, endStream: true) }

        /// Preface, SETTINGS and one HEADERS frame on stream 1 (GET or POST; END_STREAM as asked),
        /// with `fields` (lowercase names; short names and values) after the pseudo-fields.
        static func h2Request(post: Bool, _ path: String, endStream: Bool, fields: [(String, String)] = []) -> [UInt8] {
            var block: [UInt8] = [post ? 0x83 : 0x82, 0x86]       // :method GET|POST, :scheme http
            block += [0x04, UInt8(path.utf8.count)] + Array(path.utf8)   // :path (name index 4)
            block += [0x01, 0x01, UInt8(ascii: "t")]               // :authority t (name index 1)
            for (name, value) in fields {                          // literal, new name, not indexed
                block += [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
            }
            let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
            let settings: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]
            let headers: [UInt8] = [0, 0, UInt8(block.count), 1, endStream ? 0x05 : 0x04, 0, 0, 0, 1] + block
            return preface + settings + headers
        }

        /// Thousands of clients start a large download on a shared HTTP/2 upstream connection,
        /// take a little of it, and go away: the bytes held back for them are credited to the
        /// backend's connection window, so a new request still gets its whole answer at once.
        @Test(.timeLimit(.minutes(2)), arguments: [ProtocolPair.h1h2, .h2h2])
        func abandonedDownloadsNeverStarveASharedUpstream(_ pair: ProtocolPair) throws {
            let model = try startModelServer("v1")
            defer { model.stop() }
            let backend = try pair.backend(http1Port: model.port)
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "m", port: backend.port, requestTimeout: "20s", protocol: "h2")]))
            defer { h.stop() }
            let port = h.port
            let abandoned = Locked(0)
            let ok = runConcurrently(16, timeout: 100) { _ in
                for _ in 0..<64 {
                    // A small receive buffer that is never drained: Sluice's output backs up and it
                    // holds the backend's DATA back from the window, then the client leaves.
                    guard let s = try? RawSocket(port: port, timeout: 2, receiveBuffer: 4096) else { continue }
                    if pair.clientIsH2 {
                        _ = s.send(Self.h2Get("/bytes/2000000"))
                    } else {
                        _ = s.send("GET /bytes/2000000 HTTP/1.1\r\nHost: t\r\n\r\n")
                    }
                    if let b = s.receive(max: 1024), !b.isEmpty { abandoned.with { $0 += 1 } }
                    usleep(20_000)
                    s.close()
                }
            }
            #expect(ok, "the abandoning clients did not finish in time")
            #expect(abandoned.value >= 1000, "only \(abandoned.value) downloads started")
            let (r, elapsed) = try Command.timedCurl([pair.curlFlag, "-o", "/dev/null", "-w", "%{size_download}", "\(h.base)/bytes/3000000"], timeout: 20)
            #expect(r.exitCode == 0 && r.body == "3000000", "\(r.summary)")
            #expect(elapsed < 5, "a fresh 3 MB download took \(elapsed) s")
        }

        /// An HTTP/2 client that opens a stream and never finishes it, then goes quiet: the
        /// stream gets 408 after `body_idle_timeout`, is reset if still unfinished after another,
        /// and the connection, with no stream left, is closed after `idle_timeout`.
        @Test(.timeLimit(.minutes(1)), arguments: [ProtocolPair.h2h1, .h2h2])
        func unfinishedStreamAndIdleConnectionAreClosed(_ pair: ProtocolPair) throws {
            try ProtocolMatrix.withModel(pair, { port, proto in
                ProxyHarness.yaml(limits: ["body_idle_timeout: 1s", "idle_timeout: 1s"],
                                  backends: [.init(name: "m", port: port, requestTimeout: "10s", protocol: proto)])
            }) { h in
                let global = { (c: GlobalCounter) in h.control.currentSnapshot.global.value(c) }
                let bodyBefore = global(.bodyTimeouts), idleBefore = global(.idleTimeouts)
                let s = try RawSocket(port: h.port, timeout: 10)
                defer { s.close() }
                let start = Date()
                #expect(s.send(Self.h2Request(post: true, "/sink", endStream: false)))
                // Read (and drop) frames until Sluice closes the connection.
                var received = 0
                while let b = s.receive(), !b.isEmpty { received += b.count }
                let elapsed = Date().timeIntervalSince(start)
                #expect(received > 0)
                #expect(elapsed > 1.5 && elapsed < 7, "closed after \(elapsed) s")
                #expect(global(.bodyTimeouts) - bodyBefore == 1)
                #expect(global(.idleTimeouts) - idleBefore == 1)
            }
        }

        /// An HTTP/2 upstream connection without streams is closed after the backend's
        /// `timeouts.idle`: the next request opens a new one (before, it stayed open for good).
        @Test(.timeLimit(.minutes(1)), arguments: [ProtocolPair.h1h2, .h2h2])
        func idleH2UpstreamConnectionIsClosed(_ pair: ProtocolPair) throws {
            try ProtocolMatrix.withModel(pair, { port, _ in
                """
                workers: 1
                listeners: [{ name: t, address: 127.0.0.1:0 }]
                backends: [{ name: m, endpoints: [127.0.0.1:\(port)], protocol: h2, timeouts: { idle: 1s } }]
                routes:
                  - { name: r, match: { path_prefix: / }, baseline: m, targets: [{ backend: m, weight: 100 }] }
                """
            }) { h in
                let opened = { h.control.currentSnapshot.global.value(.upstreamConnectionsOpened) }
                let before = opened()
                let first = try Command.curl([pair.curlFlag, "\(h.base)/status/200"])
                let second = try Command.curl([pair.curlFlag, "\(h.base)/status/200"])
                #expect(first.status == 200 && second.status == 200, "\(first.summary) \(second.summary)")
                #expect(opened() - before == 1, "two requests in a row share one connection")
                usleep(2_500_000)
                let third = try Command.curl([pair.curlFlag, "\(h.base)/status/200"])
                #expect(third.status == 200, "\(third.summary)")
                #expect(opened() - before == 2, "the idle connection was not closed")
            }
        }

        /// `curl --http2 http://…` asks to upgrade to h2c: Sluice answers over HTTP/1.1, and
        /// neither `Upgrade` nor `HTTP2-Settings` (nor the Connection tokens naming them) reaches the backend.
        @Test(.timeLimit(.minutes(1)), arguments: [ProtocolPair.h1h1, .h1h2])
        func h2cUpgradeIsServedOverHTTP11(_ pair: ProtocolPair) throws {
            try ProtocolMatrix.withModel(pair, { port, proto in
                ProxyHarness.yaml(backends: [.init(name: "m", port: port, protocol: proto)])
            }) { h in
                let r = try Command.curl(["--http2", "\(h.base)/echo"])
                #expect(r.status == 200, "\(r.summary)")
                #expect(r.rawHeaders.hasPrefix("HTTP/1.1 200"), "\(r.rawHeaders)")
                let names = Set(r.echoedHeaders.map(\.0))
                #expect(!names.contains("upgrade") && !names.contains("http2-settings"), "\(names)")
                #expect(r.echoed("connection").allSatisfy { !$0.lowercased().contains("upgrade") }, "\(r.body)")
                // Still keep-alive: two requests over one connection.
                let two = try Command.curl(["--http2", "-o", "/dev/null", "\(h.base)/echo", "-o", "/dev/null", "\(h.base)/echo"])
                #expect(two.exitCode == 0 && two.status == 200, "\(two.summary)")
            }
        }

        /// An error on the second request of a kept-alive HTTP/1.1 connection gets its documented
        /// status and JSON body (not a silent close), then the connection closes.
        @Test(.timeLimit(.minutes(1)))
        func errorOnALaterKeepAliveRequestIsAnswered() throws {
            let model = try startModelServer("v1")
            defer { model.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "m", port: model.port)], prefix: "/echo"))
            defer { h.stop() }
            let cases: [(String, Int)] = [
                ("GET /echo HTTP/1.1\r\nHost: t\r\nX-Bad: a\u{0}b\r\n\r\n", 400),
                ("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404),
            ]
            for (second, status) in cases {
                let s = try RawSocket(port: h.port, timeout: 5)
                defer { s.close() }
                #expect(s.send("GET /echo HTTP/1.1\r\nHost: t\r\n\r\n"))
                #expect(s.readResponse()?.status == 200)
                #expect(s.send(second))
                let r = s.readResponse()
                #expect(r?.status == status, "\(String(describing: r?.status)) \(r?.text ?? "no response")")
                #expect(r?.text.contains("\"request_id\"") == true)
            }
        }
    }
}

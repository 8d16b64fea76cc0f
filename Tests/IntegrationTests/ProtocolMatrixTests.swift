import Foundation
import SluiceDemo
import SluiceCore
import Testing

extension Integration {
    /// What Sluice promises on every protocol pair (h1→h1, h1→h2, h2→h1, h2→h2): one test body
    /// each, run on all four with real curl and real backends (see ``ProtocolPair``).
    @Suite struct ProtocolMatrix {
        /// A model server on `pair`'s backend protocol behind a Sluice built from `yaml(backendPort, protocol)`.
        static func withModel(_ pair: ProtocolPair, version: String = "v1",
                              _ yaml: (UInt16, String) -> String, _ body: (ProxyHarness) throws -> Void) throws {
            let model = try startModelServer(version)
            defer { model.stop() }
            let backend = try pair.backend(http1Port: model.port)
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: yaml(backend.port, pair.backendProtocol))
            defer { h.stop() }
            try body(h)
        }

        /// Routing and forwarding see the same request from either client protocol: `:authority`
        /// is the host for `match` and for the backend, `x-request-id` is never duplicated either
        /// way, `x-forwarded-proto` is set once, HTTP/2 cookie crumbs reach an HTTP/1.1 backend as one field.
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func sameRequestOnEveryPair(_ pair: ProtocolPair) throws {
            try Self.withModel(pair, { port, proto in
                """
                workers: 1
                listeners: [{ name: t, address: 127.0.0.1:0 }]
                backends: [{ name: m, endpoints: [127.0.0.1:\(port)], protocol: \(proto), model_version: v1 }]
                routes:
                  - { name: models, match: { path_prefix: /, headers: { host: models.example } }, baseline: m, targets: [{ backend: m, weight: 100 }] }
                """
            }) { h in
                let url = "\(h.base)/echo"
                // HTTP/1.1 clients send one cookie field; HTTP/2 clients may split it into crumbs.
                let cookieArgs = pair.clientIsH2 ? ["-H", "cookie: theme=dark", "-H", "cookie: uid=alice"] : ["-H", "cookie: theme=dark; uid=alice"]
                let r = try Command.curl([pair.curlFlag, "-H", "host: models.example", "-H", "x-request-id: rid-123",
                                          "-H", "x-forwarded-proto: https"] + cookieArgs + [url])
                #expect(r.status == 200, "\(r.summary)")
                #expect(r.rawHeaders.hasPrefix(pair.clientIsH2 ? "HTTP/2 200" : "HTTP/1.1 200"), "\(r.rawHeaders)")
                #expect(r.header("x-sluice-target") == "m")
                #expect(r.headerCount("x-request-id") == 1, "\(r.rawHeaders)")
                #expect(r.header("x-request-id") == "rid-123")
                #expect(r.echoed("x-request-id") == ["rid-123"], "\(r.body)")
                #expect(r.echoed("x-forwarded-proto") == ["http"], "\(r.body)")
                #expect(r.echoed("host") == ["models.example"], "\(r.body)")
                let cookies = r.echoed("cookie")
                #expect(cookies == ["theme=dark; uid=alice"], "\(cookies)")
                // Another host matches no route.
                let other = try Command.curl([pair.curlFlag, "-H", "host: other.example", url])
                #expect(other.status == 404, "\(other.summary)")
                // A client id Sluice cannot keep (over 128 bytes) is replaced, never sent alongside.
                let long = String(repeating: "x", count: 200)
                let g = try Command.curl([pair.curlFlag, "-H", "host: models.example", "-H", "x-request-id: \(long)", url])
                #expect(g.status == 200, "\(g.summary)")
                let ids = g.echoed("x-request-id")
                #expect(ids.count == 1 && ids.first != long, "\(ids)")
                #expect(g.headerCount("x-request-id") == 1 && g.header("x-request-id") == ids.first, "\(g.rawHeaders)")
            }
        }

        /// A user lands on the same arm whether the sticky cookie comes in one HTTP/1.1 `cookie`
        /// field or in HTTP/2 crumbs (RFC 9113 §8.2.3).
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func stickyCookieSameArmFromEveryClient(_ pair: ProtocolPair) throws {
            let a = try startModelServer("va"), b = try startModelServer("vb")
            defer { a.stop(); b.stop() }
            let ba = try pair.backend(http1Port: a.port), bb = try pair.backend(http1Port: b.port)
            defer { ba.stop(); bb.stop() }
            let h = try ProxyHarness(yaml: """
                workers: 1
                listeners: [{ name: t, address: 127.0.0.1:0 }]
                backends:
                  - { name: arm-a, endpoints: [127.0.0.1:\(ba.port)], protocol: \(pair.backendProtocol) }
                  - { name: arm-b, endpoints: [127.0.0.1:\(bb.port)], protocol: \(pair.backendProtocol) }
                routes:
                  - name: ab
                    match: { path_prefix: / }
                    baseline: arm-a
                    targets: [{ backend: arm-a, weight: 50 }, { backend: arm-b, weight: 50 }]
                    sticky: { cookie: uid, salt: matrix-1, on_missing: baseline }
                """)
            defer { h.stop() }
            var arms: Set<String> = []
            for i in 0..<16 {
                let user = "user-\(i)"
                // Reference: one cookie field over HTTP/1.1.
                let ref = try Command.curl(["--http1.1", "-o", "/dev/null", "-H", "cookie: theme=dark; uid=\(user); lang=en", "\(h.base)/status/200"])
                let cookieArgs = pair.clientIsH2
                    ? ["-H", "cookie: theme=dark", "-H", "cookie: uid=\(user)", "-H", "cookie: lang=en"]
                    : ["-H", "cookie: theme=dark; uid=\(user); lang=en"]
                let r = try Command.curl([pair.curlFlag, "-o", "/dev/null"] + cookieArgs + ["\(h.base)/status/200"])
                #expect(r.status == 200 && ref.status == 200, "\(r.summary) \(ref.summary)")
                #expect(r.header("x-sluice-target") == ref.header("x-sluice-target"), "\(user): \(String(describing: r.header("x-sluice-target"))) vs \(String(describing: ref.header("x-sluice-target")))")
                if let t = r.header("x-sluice-target") { arms.insert(t) }
            }
            #expect(arms == ["arm-a", "arm-b"], "16 users should reach both arms: \(arms)")
        }

        /// `timeouts.request` bounds the whole exchange: a backend that sends its head and part of
        /// the body, then stalls, is cut off on time (never left to the client's own timeout), and
        /// one with no head at all gets 504.
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func requestTimeoutBoundsTheWholeExchange(_ pair: ProtocolPair) throws {
            let stall = try FaultBackend(.headThenStall(declared: 1000, sent: 10))
            defer { stall.stop() }
            let hang = try FaultBackend(.hang)
            defer { hang.stop() }
            let bs = try pair.backend(http1Port: stall.port), bh = try pair.backend(http1Port: hang.port)
            defer { bs.stop(); bh.stop() }
            let p = pair.backendProtocol
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(
                backends: [.init(name: "stall", port: bs.port, requestTimeout: "1s", protocol: p),
                           .init(name: "hang", port: bh.port, requestTimeout: "1s", protocol: p)],
                prefix: "/stall", targets: [("stall", 100)]) + """
                  - { name: hang, match: { path_prefix: /hang }, baseline: hang, targets: [{ backend: hang, weight: 100 }] }

                """)
            defer { h.stop() }
            let timeoutsBefore = h.control.currentSnapshot.global.value(.upstreamTimeouts)
            let (cut, cutTime) = try Command.timedCurl([pair.curlFlag, "\(h.base)/stall"], timeout: 15)
            #expect(cut.status == 200, "\(cut.summary)")
            // Not the client's own --max-time (28): Sluice cut the stream / connection.
            #expect(cut.exitCode != 0 && cut.exitCode != 28, "\(cut.summary)")
            #expect(cutTime < 5, "cut after \(cutTime) s")
            let (none, noneTime) = try Command.timedCurl([pair.curlFlag, "\(h.base)/hang"], timeout: 15)
            #expect(none.status == 504, "\(none.summary)")
            #expect(none.json?["error"] as? String == "upstream_timeout", "\(none.body)")
            #expect(noneTime < 5, "504 after \(noneTime) s")
            #expect(h.control.currentSnapshot.global.value(.upstreamTimeouts) - timeoutsBefore >= 2)
        }

        /// After the response head, `body_idle_timeout` bounds the gap between two pieces of
        /// response body even when `timeouts.request` is much longer: a backend that stalls mid-body
        /// is cut after about a second, not after the request timeout.
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func stalledResponseBodyIsCutAfterBodyIdle(_ pair: ProtocolPair) throws {
            let stall = try FaultBackend(.headThenStall(declared: 1000, sent: 10))
            defer { stall.stop() }
            let bs = try pair.backend(http1Port: stall.port)
            defer { bs.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(
                limits: ["body_idle_timeout: 1s"],
                backends: [.init(name: "stall", port: bs.port, requestTimeout: "20s", protocol: pair.backendProtocol)],
                prefix: "/stall", targets: [("stall", 100)]))
            defer { h.stop() }
            let (cut, cutTime) = try Command.timedCurl([pair.curlFlag, "\(h.base)/stall"], timeout: 15)
            #expect(cut.status == 200, "\(cut.summary)")
            #expect(cut.exitCode != 0 && cut.exitCode != 28, "\(cut.summary)")
            #expect(cutTime > 0.8 && cutTime < 4, "cut after \(cutTime) s (body_idle_timeout 1s, request timeout 20s)")
        }

        /// Shadow copies are decided in one place for both kinds of client: mirrored when the primary
        /// speaks HTTP/1.1, counted as dropped (`other`) when it is an `h2` backend (not mirrored).
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func shadowCopiesTheSameOnEveryPair(_ pair: ProtocolPair) throws {
            let shadow = try startModelServer("shadow")
            defer { shadow.stop() }
            try Self.withModel(pair, { port, proto in
                ProxyHarness.yaml(backends: [.init(name: "m", port: port, protocol: proto), .init(name: "s", port: shadow.port)],
                                  targets: [("m", 100)],
                                  routeExtra: ["shadow: { backend: s, percent: 100 }"])
            }) { h in
                for _ in 0..<5 {
                    let r = try Command.curl([pair.curlFlag, "\(h.base)/echo"])
                    #expect(r.status == 200, "\(r.summary)")
                }
                let figures = { h.control.currentSnapshot.shadowStats[0]!.snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000) }
                if pair.backendProtocol == "h2" {
                    #expect(eventually(3) { figures().droppedByReason[.other] == 5 }, "\(figures())")
                    #expect(figures().mirrored == 0)
                } else {
                    #expect(eventually(3) { figures().mirrored == 5 }, "\(figures())")
                    #expect(figures().dropped == 0)
                }
            }
        }

        /// A client that stops sending its request body gets 408 after `body_idle_timeout`
        /// (HTTP/2: a stream the client never finishes), whichever protocol the backend speaks.
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func stalledRequestBodyGets408(_ pair: ProtocolPair) throws {
            try Self.withModel(pair, { port, proto in
                ProxyHarness.yaml(limits: ["body_idle_timeout: 1s"],
                                  backends: [.init(name: "m", port: port, requestTimeout: "10s", protocol: proto)])
            }) { h in
                let before = h.control.currentSnapshot.global.value(.bodyTimeouts)
                var elapsed = 0.0
                let r = try Command.curlStallingUpload([pair.curlFlag, "\(h.base)/sink"], first: "partial-body") {
                    let start = Date()
                    _ = eventually(8) { h.control.currentSnapshot.global.value(.bodyTimeouts) - before == 1 }
                    elapsed = Date().timeIntervalSince(start)
                }
                #expect(h.control.currentSnapshot.global.value(.bodyTimeouts) - before == 1)
                #expect(elapsed > 0.5 && elapsed < 4, "timed out after \(elapsed) s")
                #expect(r.status == 408, "\(r.summary)")
                #expect(r.json?["error"] as? String == "request_timeout", "\(r.body)")
            }
        }

        /// An informational head (103 Early Hints) before the answer is not forwarded and the
        /// final head after it is: on an HTTP/2 backend too, where nghttp2 labels every header
        /// block after a stream's first alike and the final head used to be taken for trailers
        /// (the exchange then failed with 502 `upstream_reset`).
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func informationalHeadBeforeTheAnswerIsSkipped(_ pair: ProtocolPair) throws {
            try Self.withModel(pair, { port, proto in
                ProxyHarness.yaml(backends: [.init(name: "m", port: port, protocol: proto)])
            }) { h in
                // Twice: what the first exchange leaves (a pooled connection, a stream) serves the second.
                for _ in 0..<2 {
                    let r = try Command.curl([pair.curlFlag, "\(h.base)/hints"])
                    #expect(r.status == 200, "\(r.summary)")
                    #expect(r.json?["hinted"] as? Bool == true, "\(r.body)")
                    #expect(r.header("x-sluice-target") == "m")
                    #expect(r.header("link") == nil, "\(r.rawHeaders)")
                }
            }
        }

        /// A body above the route's limit gets 413 whether it is declared (content-length) or
        /// streamed without a length (HTTP/1.1 chunked, HTTP/2 DATA), and is counted.
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func bodyOverTheLimitGets413(_ pair: ProtocolPair) throws {
            let dir = NSTemporaryDirectory() + "sluice-413-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = "\(dir)/body"
            FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x61, count: 5000))
            try Self.withModel(pair, { port, proto in
                ProxyHarness.yaml(backends: [.init(name: "m", port: port, protocol: proto)], routeExtra: ["max_request_body: 1KiB"])
            }) { h in
                let before = h.control.currentSnapshot.global.value(.bodyTooLarge)
                let declared = try Command.curl([pair.curlFlag, "--data-binary", "@\(file)", "\(h.base)/sink"])
                #expect(declared.status == 413, "\(declared.summary)")
                #expect(declared.json?["error"] as? String == "body_too_large", "\(declared.body)")
                // Without a length: curl reads stdin (chunked on HTTP/1.1, plain DATA on HTTP/2).
                let streamed = try Command.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", pair.curlFlag, "-H", "Expect:",
                                                        "-T", "-", "\(h.base)/sink"], input: Data(repeating: 0x62, count: 5000))
                #expect(streamed.stdout == "413", "\(streamed.stdout) \(streamed.stderr)")
                let small = try Command.curl([pair.curlFlag, "--data-binary", "small", "\(h.base)/sink"])
                #expect(small.status == 200, "\(small.summary)")
                #expect(h.control.currentSnapshot.global.value(.bodyTooLarge) - before == 2)
            }
        }
    }
}

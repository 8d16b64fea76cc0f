import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// Errors Sluice produces: documented JSON, right status, connection handling.
    @Suite struct Errors {
        /// Checks the documented error body and that its request_id matches the header.
        static func expectJSONError(_ status: Int, _ code: String?, body: String, headerID: String?, _ ctx: String,
                                    sourceLocation: SourceLocation = #_sourceLocation) {
            let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            #expect(json != nil, "\(ctx): body is not JSON: \(body.prefix(200))", sourceLocation: sourceLocation)
            guard let json else { return }
            #expect(json["error"] is String, "\(ctx): no error code in \(body)", sourceLocation: sourceLocation)
            if let code { #expect(json["error"] as? String == code, "\(ctx): \(body)", sourceLocation: sourceLocation) }
            #expect(!((json["message"] as? String) ?? "").isEmpty, "\(ctx): no message in \(body)", sourceLocation: sourceLocation)
            let id = json["request_id"] as? String
            #expect(id != nil && !id!.isEmpty, "\(ctx): no request_id in \(body)", sourceLocation: sourceLocation)
            #expect(id == headerID, "\(ctx): request_id \(String(describing: id)) vs header \(String(describing: headerID))", sourceLocation: sourceLocation)
        }

        @Test(.timeLimit(.minutes(1)))
        func noRouteBodyTooLargeHeadersTooLarge() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)], prefix: "/v1",
                                                             routeExtra: ["max_request_body: 1KiB"]))
            defer { h.stop() }

            let r404 = try Command.curl(["\(h.base)/other"])
            #expect(r404.status == 404, "\(r404.summary)")
            Self.expectJSONError(404, "no_route", body: r404.body, headerID: r404.header("x-request-id"), "404")
            #expect(r404.header("content-type") == "application/json")

            let r413 = try Command.curl(["--data-binary", String(repeating: "a", count: 2000), "\(h.base)/v1/models/m/predict"])
            #expect(r413.status == 413, "\(r413.summary)")
            Self.expectJSONError(413, "body_too_large", body: r413.body, headerID: r413.header("x-request-id"), "413")

            // A huge declared length, raw: answered before any body byte.
            let s = try RawSocket(port: h.port, timeout: 3)
            s.send("POST /v1/models/m/predict HTTP/1.1\r\nHost: t\r\nX-Request-Id: big-1\r\nContent-Length: 10000000000\r\n\r\n")
            let raw413 = s.readResponse()
            #expect(raw413?.status == 413)
            #expect(raw413?.json?["request_id"] as? String == "big-1", "client id kept in the error: \(raw413?.text ?? "nil")")
            #expect(s.closedByPeer(), "connection left open after 413")

            // Chunked body growing past the limit: 413 (or the connection cut), never forwarded whole.
            let sinkBefore = backend.requestsServed
            let bodyFile = NSTemporaryDirectory() + "sluice-chunked-\(UUID().uuidString)"
            try Data(repeating: 0x62, count: 300_000).write(to: URL(fileURLWithPath: bodyFile))
            defer { try? FileManager.default.removeItem(atPath: bodyFile) }
            let chunked = try Command.curl(["-H", "Transfer-Encoding: chunked", "--data-binary", "@" + bodyFile, "\(h.base)/v1/sink"])
            #expect(chunked.status == 413 || chunked.exitCode != 0, "chunked over the limit: \(chunked.summary)")
            #expect(backend.requestsServed == sinkBefore, "the backend answered an over-limit chunked body")

            let big = String(repeating: "x", count: 70 * 1024)
            let r431 = try Command.curl(["-H", "x-big: \(big)", "\(h.base)/v1/models/m"])
            #expect(r431.status == 431, "\(r431.summary.prefix(400))")
            Self.expectJSONError(431, nil, body: r431.body, headerID: r431.header("x-request-id"), "431")

            // Still serving.
            let ok = try Command.curl(["\(h.base)/v1/models/m"])
            #expect(ok.status == 200, "\(ok.summary)")
        }

        @Test(.timeLimit(.minutes(1)))
        func smugglingAttemptsGet400AndTheConnectionCloses() throws {
            let backend = try startModelServer("v1")
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "only", port: backend.port)]))
            defer { h.stop() }
            let cases: [(String, String)] = [
                ("CL+TE", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /status/202 HTTP/1.1\r\nHost: t\r\n\r\n"),
                ("TE+CL", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"),
                ("CL list", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3, 3\r\n\r\nabc"),
                ("CL twice differing", "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
                ("obs-fold", "GET /echo HTTP/1.1\r\nHost: t\r\nX-Folded: a\r\n b\r\n\r\n"),
                ("bare LF", "GET /echo HTTP/1.1\nHost: t\n\n"),
                ("bare LF in a field", "GET /echo HTTP/1.1\r\nHost: t\r\nX-A: 1\nX-B: 2\r\n\r\n"),
                ("space before colon", "GET /echo HTTP/1.1\r\nHost : t\r\n\r\n"),
                ("TE not chunked", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
                ("TE chunked not last", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
                ("chunked HTTP/1.0", "POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                ("no Host", "GET /echo HTTP/1.1\r\n\r\n"),
                ("NUL in value", "GET /echo HTTP/1.1\r\nHost: t\r\nX-A: a\u{0}b\r\n\r\n"),
                ("bad chunk size", "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
            ]
            let served = backend.requestsServed
            for (name, bytes) in cases {
                let s = try RawSocket(port: h.port, timeout: 3)
                s.send(bytes)
                let r = s.readResponse()
                #expect(r?.status == 400, "\(name): got \(String(describing: r?.status)) \(r?.text ?? "no response")")
                if let r {
                    Self.expectJSONError(400, nil, body: r.text, headerID: r.header("x-request-id"), name)
                    #expect(r.header("connection")?.lowercased() == "close", "\(name): no connection: close")
                }
                #expect(s.closedByPeer(), "\(name): connection still open after the 400")
            }
            // None of them may be answered by the backend (the bad chunk's head reaches it, but never a whole request).
            #expect(backend.requestsServed == served, "the backend answered \(backend.requestsServed - served) rejected requests")
            let ok = try Command.curl(["\(h.base)/echo"])
            #expect(ok.status == 200)
        }

        @Test(.timeLimit(.minutes(1)))
        func upstreamFailuresMapToDocumentedStatuses() throws {
            let closed = try ClosedPort()
            defer { closed.release() }
            let hang = try FaultBackend(.hang)
            let slow = try FaultBackend(.slowHeaders(byteIntervalMs: 50))
            let garbage = try FaultBackend(.garbageStatusLine)
            let fiveHundred = try FaultBackend(.status(503))
            defer { hang.stop(); slow.stop(); garbage.stop(); fiveHundred.stop() }
            let names = ["refuse", "hang", "slow", "garbage", "fivexx"]
            let ports = [closed.port, hang.port, slow.port, garbage.port, fiveHundred.port]
            let backends = zip(names, ports).map { ProxyHarness.Backend(name: $0.0, port: $0.1, requestTimeout: "1s") }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: backends, targets: names.enumerated().map { ($0.1, $0.0 == 0 ? 100 : 0) },
                                                             routeExtra: ["override_header: x-sluice-target"]))
            defer { h.stop() }

            func ask(_ target: String) throws -> (CurlResult, TimeInterval) {
                let t0 = Date()
                let r = try Command.curl(["-H", "x-sluice-target: \(target)", "\(h.base)/v1/models/m"], timeout: 10)
                return (r, Date().timeIntervalSince(t0))
            }

            let (r503, _) = try ask("refuse")
            #expect(r503.status == 503, "refused: \(r503.summary)")
            Self.expectJSONError(503, nil, body: r503.body, headerID: r503.header("x-request-id"), "503")

            let (r504, t504) = try ask("hang")
            #expect(r504.status == 504, "hang: \(r504.summary)")
            Self.expectJSONError(504, nil, body: r504.body, headerID: r504.header("x-request-id"), "504")
            #expect(t504 >= 0.9 && t504 < 3, "504 after \(t504)s with a 1s request timeout")

            let (rSlow, tSlow) = try ask("slow")
            #expect(rSlow.status == 504, "slow headers: \(rSlow.summary)")
            #expect(tSlow < 3, "slow headers answered after \(tSlow)s with a 1s request timeout")

            let (r502, _) = try ask("garbage")
            #expect(r502.status == 502, "garbage: \(r502.summary)")
            Self.expectJSONError(502, nil, body: r502.body, headerID: r502.header("x-request-id"), "502")

            // A backend's own 5xx passes through untouched, with Sluice's headers.
            let (r5xx, _) = try ask("fivexx")
            #expect(r5xx.status == 503)
            #expect(r5xx.json?["backend_error"] as? Bool == true, "backend 503 body replaced: \(r5xx.body)")
            #expect(r5xx.header("x-sluice-target") == "fivexx")
            #expect(r5xx.header("x-request-id") != nil)
        }

        @Test(.timeLimit(.minutes(1)))
        func brokenBodiesAreNeverCompleteLooking() throws {
            let reset = try FaultBackend(.resetMidBody(declared: 1_000_000, sent: 500_000))
            let short = try FaultBackend(.wrongContentLength(declared: 100_000, sent: 50_000))
            defer { reset.stop(); short.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(
                backends: [.init(name: "reset", port: reset.port), .init(name: "short", port: short.port)],
                targets: [("reset", 50), ("short", 50)], routeExtra: ["override_header: x-sluice-target"]))
            defer { h.stop() }
            for (target, declared) in [("reset", 1_000_000), ("short", 100_000)] {
                for _ in 0..<3 {
                    let r = try Command.curl(["-H", "x-sluice-target: \(target)", "-o", "/dev/null", "-w", "%{size_download}",
                                              "\(h.base)/download"], timeout: 10)
                    #expect(r.exitCode == 18 || r.exitCode == 56, "\(target): curl exit \(r.exitCode), want 18 or 56 (\(r.summary))")
                    let got = Int(r.body) ?? -1
                    #expect(got < declared, "\(target): \(got) of \(declared) bytes looked complete")
                    #expect(r.status == 200 || r.status == 0, "\(target): \(r.summary)")
                }
            }
            let (ok) = try Command.curl(["-H", "x-sluice-target: short", "-o", "/dev/null", "-w", "%{http_code}", "\(h.base)/download"], timeout: 10)
            #expect(ok.exitCode == 18, "Sluice stopped answering after broken bodies: \(ok.summary)")
        }
    }
}

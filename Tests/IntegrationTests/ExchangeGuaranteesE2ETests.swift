import Foundation
import SluiceDemo
import Testing

extension Integration {
    /// End-to-end checks of exchange guarantees that ExchangeMachineTests proves in memory: a real
    /// data plane on 127.0.0.1, real backends and, where a client can see the behaviour, real
    /// clients (grpcio, curl). Each test names what would be observed without the guarantee.
    @Suite struct ExchangeGuaranteesE2E {
        // MARK: 1. a cut gRPC stream whose client still sends

        /// A gRPC server whose client-streaming `ClientStall` sends its response headers without
        /// reading the request stream, then stalls; `Echo` answers at once.
        static let stallingServer = #"""
        import grpc, time
        from concurrent import futures
        def client_stall(requests, ctx):
            ctx.send_initial_metadata((('x-stage', 'head'),))
            time.sleep(8)
            return b'late'
        def echo(req, ctx):
            return b'echo:' + req
        handler = grpc.method_handlers_generic_handler('inference.GRPCInferenceService', {
            'ClientStall': grpc.stream_unary_rpc_method_handler(client_stall),
            'Echo': grpc.unary_unary_rpc_method_handler(echo)})
        server = grpc.server(futures.ThreadPoolExecutor(8))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port('127.0.0.1:0')
        server.start()
        print(port, flush=True)
        server.wait_for_termination(60)
        """#

        /// A client-streaming call whose request stream stays open (one message, then nothing, no
        /// half-close) must end with Sluice's DEADLINE_EXCEEDED; then a unary call on the same channel.
        static let streamingClient = #"""
        import grpc, sys, time, threading
        ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
        release = threading.Event()
        def requests():
            yield b'first'
            release.wait(15)
        t0 = time.monotonic()
        try:
            ch.stream_unary('/inference.GRPCInferenceService/ClientStall')(requests(), timeout=20)
            raise SystemExit('expected DEADLINE_EXCEEDED')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
            assert 'did not answer in time' in (e.details() or ''), e.details()
        elapsed = time.monotonic() - t0
        release.set()
        assert ch.unary_unary('/inference.GRPCInferenceService/Echo')(b'again', timeout=5) == b'echo:again'
        print('OK %.2f' % elapsed)
        """#

        /// The stalling gRPC server behind a data plane whose `grpc-v1` has `timeouts.request: 1s`.
        static func withStallingGRPC(_ body: (ProxyHarness) throws -> Void) throws {
            let server = try PythonServer(script: Self.stallingServer)
            defer { server.stop() }
            let grpcPort = try #require(server.port, "the grpc server printed no port: \(server.firstLine)")
            let closed = try ClosedPort()
            defer { closed.release() }
            let h = try ProxyHarness(yaml: GRPC.yaml(grpcPort: grpcPort, downPort: closed.port))
            defer { h.stop() }
            try body(h)
        }

        /// grpcio, client-streaming, request stream still open when the backend's headers come
        /// and it stalls: the call ends with Sluice's DEADLINE_EXCEEDED after `timeouts.request`
        /// (1 s), not at the client's own 20 s deadline, and the channel serves the next call.
        /// (Before the reset waited for the trailers' frame, nghttp2 sent the RST_STREAM first and
        /// the call ended with INTERNAL "Stream removed".)
        @Test(.timeLimit(.minutes(1)))
        func grpcioStreamStillSendingGetsDeadlineExceededOnTime() throws {
            try Self.withStallingGRPC { h in
                let before = h.control.currentSnapshot.global.value(.upstreamTimeouts)
                let r = try Command.run("python3", ["-c", Self.streamingClient, "\(h.port)"], timeout: 40)
                #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
                let parts = r.stdout.split(separator: " ")
                #expect(parts.first == "OK", "\(r.stdout)\(r.stderr)")
                if parts.count == 2, let elapsed = Double(parts[1].trimmingCharacters(in: .whitespacesAndNewlines)) {
                    #expect(elapsed > 0.8 && elapsed < 4, "the call ended after \(elapsed) s")
                }
                #expect(h.control.currentSnapshot.global.value(.upstreamTimeouts) - before == 1)
            }
        }

        /// The same cut seen frame by frame by a raw HTTP/2 client that never ends its request
        /// stream: response HEADERS, trailers (END_STREAM), then RST_STREAM NO_ERROR, about
        /// `timeouts.request` after the request. Without the reset, Sluice's side of the stream
        /// stays open after the trailers for as long as the client keeps its half open (no frame
        /// after the trailers: this read times out); with the reset submitted at once, it overtakes
        /// the trailers (HEADERS, then RST_STREAM, no trailers).
        @Test(.timeLimit(.minutes(1)))
        func cutGRPCStreamStillSendingIsResetAfterItsTrailers() throws {
            try Self.withStallingGRPC { h in
                let s = try RawSocket(port: h.port, timeout: 4)
                defer { s.close() }
                let message: [UInt8] = [0, 0, 0, 0, 5] + Array("first".utf8)      // gRPC frame: not compressed, 5 bytes
                let data: [UInt8] = [0, 0, UInt8(message.count), H2Frame.data, 0, 0, 0, 0, 1] + message   // no END_STREAM
                let request = StreamLifecycle.h2Request(post: true, "/inference.GRPCInferenceService/ClientStall", endStream: false,
                                                        fields: [("content-type", "application/grpc"), ("te", "trailers")])
                let started = Date()
                #expect(s.send(request + data))
                var events: [String] = []
                var resetAfter: TimeInterval?
                reading: while let f = s.readH2Frame() {
                    if f.type == H2Frame.settings && f.flags & H2Frame.ack == 0 { s.send(H2Frame.settingsAck) }
                    guard f.stream == 1 else { continue }
                    switch f.type {
                    case H2Frame.headers:
                        events.append(f.flags & H2Frame.endStream != 0 ? "trailers" : "head")
                    case H2Frame.data:
                        events.append(f.flags & H2Frame.endStream != 0 ? "data+end" : "data")
                    case H2Frame.rstStream:
                        events.append("rst \(f.errorCode ?? 99)")
                        resetAfter = Date().timeIntervalSince(started)
                        break reading
                    default:
                        continue
                    }
                }
                #expect(events == ["head", "trailers", "rst 0"], "frames on stream 1: \(events)")
                if let t = resetAfter { #expect(t > 0.8 && t < 3, "reset after \(t) s") }
            }
        }

        // MARK: 2. an HTTP/1.1 upstream connection with unsent request bytes is never pooled

        /// The request body the backend never reads.
        enum UnreadBody: Int, CaseIterable, Sendable, CustomTestStringConvertible {
            /// 320 kB: Sluice takes all of it from the client (what the sockets to the backend do
            /// not hold, about 150 to 250 kB on loopback with this backend, fits under its 256 KiB
            /// upstream buffer) but cannot pass it all on: the request is complete, bytes of it
            /// are still unsent.
            case heldBySluice = 320_000
            /// 4 MB: the client is still sending when the answer comes.
            case stillUploading = 4_000_000
            var testDescription: String { self == .heldBySluice ? "320 kB held by Sluice" : "4 MB still uploading" }
        }

        /// A backend answers (complete, keep-alive) half a second after the head of a POST whose
        /// body it never reads. The next request must reach it on a fresh connection: on the
        /// first one the rest of that body would come first and the backend would take it as the
        /// start of the next request (with a pooled connection: a 400 for a line of `a`s).
        @Test(.timeLimit(.minutes(1)), arguments: [ProtocolPair.h1h1, .h2h1], UnreadBody.allCases)
        func connectionWithUnsentBodyIsNeverPooled(_ pair: ProtocolPair, _ body: UnreadBody) throws {
            let backend = try FaultBackend(.answerWithoutReadingBody(delayMs: 500))
            defer { backend.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "m", port: backend.port, requestTimeout: "10s")]))
            defer { h.stop() }
            let file = NSTemporaryDirectory() + "unread-body-\(UUID().uuidString)"
            #expect(FileManager.default.createFile(atPath: file, contents: Data(repeating: 0x61, count: body.rawValue)))
            defer { try? FileManager.default.removeItem(atPath: file) }

            if pair.clientIsH2 {
                // An HTTP/2 client answered while it still uploads gets back the window of the
                // request DATA Sluice held for the backend and finishes its upload at once (Sluice
                // drops it). Before, that window was never credited: the upload stalled (about
                // 10 s here, until a timeout ended the stream). (Not curl: 7.88 stops reading its
                // socket once the answer is complete while it still uploads, and hangs.)
                let started = Date()
                let first = try Command.run("nghttp", ["-d", file, "\(h.base)/early"], timeout: 20)
                let took = Date().timeIntervalSince(started)
                #expect(first.status == 0 && first.stdout == "1 POST /early HTTP/1.1", "\(first.stdout) \(first.stderr)")
                #expect(took < 5, "the upload took \(took) s")
            } else {
                let first = try Command.curl([pair.curlFlag, "-H", "Expect:", "--data-binary", "@\(file)", "\(h.base)/early"], timeout: 10)
                #expect(first.status == 200 && first.body == "1 POST /early HTTP/1.1", "\(first.summary)")
                if body == .heldBySluice {
                    // The client connection stays open: Sluice had the whole request before the answer,
                    // so only the bytes it still holds for the backend keep the connection out of the pool.
                    #expect(first.header("connection") == nil, "\(first.rawHeaders)")
                }
            }

            let second = try Command.curl([pair.curlFlag, "\(h.base)/second"])
            #expect(second.status == 200 && second.body == "2 GET /second HTTP/1.1", "\(second.summary)")
            let seen = backend.requests
            #expect(seen.map(\.line) == ["POST /early HTTP/1.1", "GET /second HTTP/1.1"], "\(seen.map { "\($0.connection) \($0.line.prefix(80))" })")
            #expect(seen.map(\.connection) == [1, 2])
            #expect(h.control.currentSnapshot.global.value(.upstreamConnectionsReused) == 0)
        }

        // MARK: 3. OPTIONS * is forwarded as *

        /// `OPTIONS *` (HTTP/1.1 asterisk-form, HTTP/2 `:path: *`) is routed like `/` and reaches
        /// the backend as `OPTIONS * HTTP/1.1` (not `/*`), on every pair. (Routed by `*` itself, it
        /// matched no route: 404 `no_route`, since every path match starts with `/`.)
        @Test(.timeLimit(.minutes(1)), arguments: ProtocolPair.allCases)
        func optionsAsteriskReachesTheBackendAsAsterisk(_ pair: ProtocolPair) throws {
            let backend = try FaultBackend(.answerWithoutReadingBody(delayMs: 0))
            defer { backend.stop() }
            let front = try pair.backend(http1Port: backend.port)
            defer { front.stop() }
            let h = try ProxyHarness(yaml: ProxyHarness.yaml(backends: [.init(name: "m", port: front.port, protocol: pair.backendProtocol)]))
            defer { h.stop() }
            let r = try Command.curl([pair.curlFlag, "-X", "OPTIONS", "--request-target", "*", "\(h.base)/"])
            #expect(r.status == 200, "\(r.summary)")
            #expect(r.body.hasSuffix(" OPTIONS * HTTP/1.1"), "\(r.summary)")
            #expect(backend.requests.map(\.line) == ["OPTIONS * HTTP/1.1"])
        }

        // MARK: 4. passive ejection counts 5xx answers of `protocol: h2` backends

        /// A `protocol: h2` backend over two h2c endpoints (model servers behind nghttpx), one of
        /// which answers every request 500: round-robin sends it every other request until its
        /// 5th consecutive 500 ejects it; then every request goes to the healthy one. (Were an
        /// HTTP/2 endpoint's answers not counted, every other request would stay a 500.)
        @Test(.timeLimit(.minutes(1)), arguments: [ProtocolPair.h1h2, .h2h2])
        func h2EndpointAnswering5xxIsEjected(_ pair: ProtocolPair) throws {
            let ok = try startModelServer("ok")
            defer { ok.stop() }
            let bad = try ModelServer.start(port: 0, behavior: ModelBehavior(modelVersion: "bad", errorRate: 1))
            defer { bad.stop() }
            let okFront = try H2Front(backendPort: ok.port)
            defer { okFront.stop() }
            let badFront = try H2Front(backendPort: bad.port)
            defer { badFront.stop() }
            let h = try ProxyHarness(yaml: Health.yaml(ports: [okFront.port, badFront.port], health: nil, workers: 1, protocol: "h2"))
            defer { h.stop() }

            var statuses: [Int] = []
            for _ in 0..<10 { statuses.append(try Command.curl([pair.curlFlag, "\(h.base)/echo"]).status) }
            #expect(statuses.filter { $0 == 500 }.count == 5 && statuses.filter { $0 == 200 }.count == 5,
                    "the 5xx are forwarded until the ejection: \(statuses)")
            // The client may read the 5th 500 a moment before the worker counts it.
            #expect(eventually(1) { Health.row(h, port: badFront.port)?.ejectedWorkers == 1 },
                    "\(String(describing: Health.row(h, port: badFront.port)))")
            #expect(Health.row(h, port: badFront.port)?.passiveConsecutiveFailures == 5)
            #expect(h.control.currentSnapshot.global.value(.endpointEjections) == 1)

            let badServed = bad.requestsServed
            var after: [String] = []
            for _ in 0..<20 {
                let r = try Command.curl([pair.curlFlag, "\(h.base)/echo"])
                after.append("\(r.status) \(r.header("x-backend") ?? "-")")
            }
            #expect(after == Array(repeating: "200 ok", count: 20), "answers after the ejection: \(after)")
            #expect(bad.requestsServed == badServed, "the ejected endpoint got traffic")
        }
    }
}

import Foundation
import SluiceCore
import Testing

extension Integration {
    /// A real gRPC client and server (Python grpcio) through Sluice over HTTP/2.
    @Suite struct GRPC {
        static let server = #"""
        import grpc, sys, time
        from concurrent import futures
        def unary(req, ctx):
            if req == b'fail':
                ctx.abort(grpc.StatusCode.NOT_FOUND, 'no such model')
            ctx.set_trailing_metadata((('x-model-trailer', 'v1'),))
            return b'echo:' + req
        def stream(req, ctx):
            for i in range(int(req)):
                yield b'part-%d' % i
        def slow(req, ctx):
            time.sleep(3)
            return req
        handler = grpc.method_handlers_generic_handler('inference.GRPCInferenceService', {
            'ModelInfer': grpc.unary_unary_rpc_method_handler(unary),
            'ModelStream': grpc.unary_stream_rpc_method_handler(stream),
            'Slow': grpc.unary_unary_rpc_method_handler(slow)})
        server = grpc.server(futures.ThreadPoolExecutor(4))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port('127.0.0.1:0')
        server.start()
        print(port, flush=True)
        server.wait_for_termination(60)
        """#

        static let client = #"""
        import grpc, sys
        ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
        infer = ch.unary_unary('/inference.GRPCInferenceService/ModelInfer')
        resp, call = infer.with_call(b'hello', timeout=5)
        assert resp == b'echo:hello', resp
        assert dict(call.trailing_metadata()).get('x-model-trailer') == 'v1', call.trailing_metadata()
        assert dict(call.initial_metadata()).get('x-sluice-target') == 'grpc-v1', call.initial_metadata()
        parts = list(ch.unary_stream('/inference.GRPCInferenceService/ModelStream')(b'5', timeout=5))
        assert parts == [b'part-%d' % i for i in range(5)], parts
        try:
            infer(b'fail', timeout=5)
            raise SystemExit('expected NOT_FOUND')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.NOT_FOUND and e.details() == 'no such model', (e.code(), e.details())
        try:
            ch.unary_unary('/down.Svc/Call')(b'x', timeout=5)
            raise SystemExit('expected UNAVAILABLE')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAVAILABLE, e.code()
        for i in range(50):
            assert infer(b'n%d' % i, timeout=5) == b'echo:n%d' % i
        try:
            ch.unary_unary('/inference.GRPCInferenceService/Slow')(b'x', timeout=10)
            raise SystemExit('expected DEADLINE_EXCEEDED')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
        print('OK')
        """#

        @Test(.timeLimit(.minutes(1)))
        func unaryStreamingTrailersAndStatuses() throws {
            let server = try PythonServer(script: GRPC.server)
            defer { server.stop() }
            let grpcPort = try #require(server.port, "the grpc server printed no port")
            let closed = try ClosedPort()
            defer { closed.release() }
            let h = try ProxyHarness(yaml: Self.yaml(grpcPort: grpcPort, downPort: closed.port))
            defer { h.stop() }
            try Self.runClient(through: h)
        }

        /// The config the gRPC client runs against: `grpc-v1` (request timeout 1 s, for the
        /// DEADLINE_EXCEEDED call) and `down`, a closed port; `tls` is the inside of a `tls:`
        /// mapping for `grpc-v1` (nil: h2c), `downTLS` the same for `down`.
        static func yaml(grpcPort: UInt16, downPort: UInt16, tls: String? = nil, downTLS: String? = nil) -> String {
            """
            workers: 1
            listeners: [{ name: t, address: 127.0.0.1:0 }]
            backends:
              - { name: grpc-v1, endpoints: [127.0.0.1:\(grpcPort)], protocol: h2, model_version: v1, timeouts: { request: 1s }\(
                  tls.map { ", tls: { \($0) }" } ?? "") }
              - { name: down, endpoints: [127.0.0.1:\(downPort)], protocol: h2, timeouts: { connect: 300ms }\(
                  downTLS.map { ", tls: { \($0) }" } ?? "") }
            routes:
              - { name: infer, match: { path_prefix: /inference. }, baseline: grpc-v1, targets: [{ backend: grpc-v1, weight: 100 }] }
              - { name: down, match: { path_prefix: /down. }, baseline: down, targets: [{ backend: down, weight: 100 }] }
            """
        }

        /// Runs the gRPC client through `h` (it asserts messages, trailers and codes itself) and
        /// checks grpc-v1's statistics.
        static func runClient(through h: ProxyHarness) throws {
            let r = try Command.run("python3", ["-c", GRPC.client, "\(h.port)"], timeout: 40)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("OK"))
            let stats = h.control.currentSnapshot.targetStats[0][0].snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000)
            #expect(stats.requests == 54, "\(stats)")
            // The NOT_FOUND answer is HTTP 200 but a gRPC error: counted as one; the timeout is the other.
            #expect(stats.errors == 2, "\(stats)")
            #expect(stats.responses2xx == 53, "\(stats)")
        }
    }
}

/// A Python test server started with `python3 -c SCRIPT`; the script prints its port on its first line.
final class PythonServer {
    let process = Process()
    /// The port it printed, or nil if it printed something else.
    private(set) var port: UInt16?
    /// The whole first line it printed.
    private(set) var firstLine = ""

    /// Runs `python3 -c script arguments...` and reads the first line it prints.
    init(script: String, arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = String(decoding: out.fileHandleForReading.availableDataLine(), as: UTF8.self)
        firstLine = line.trimmingCharacters(in: .whitespacesAndNewlines)
        port = UInt16(firstLine)
    }

    /// SIGKILL: grpcio servers ignore SIGTERM while their threads run.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

extension FileHandle {
    /// Reads up to the first newline (blocking).
    func availableDataLine() -> Data {
        var data = Data()
        while true {
            let byte = readData(ofLength: 1)
            if byte.isEmpty || byte == Data([0x0A]) { return data }
            data.append(byte)
        }
    }
}

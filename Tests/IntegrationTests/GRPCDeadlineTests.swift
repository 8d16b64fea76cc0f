import Foundation
import Testing

extension Integration {
    /// A gRPC model server that sends its response headers (or a first message) and then stalls:
    /// `timeouts.request` still bounds the call, and the grpcio client gets DEADLINE_EXCEEDED
    /// (`grpc-status: 4`) from Sluice on time, not from its own, much later deadline.
    @Suite struct GRPCDeadline {
        static let server = #"""
        import grpc, time
        from concurrent import futures
        def head_stall(req, ctx):
            ctx.send_initial_metadata((('x-stage', 'head'),))
            time.sleep(8)
            return req
        def stream_stall(req, ctx):
            yield b'first'
            time.sleep(8)
            yield b'second'
        handler = grpc.method_handlers_generic_handler('inference.GRPCInferenceService', {
            'HeadStall': grpc.unary_unary_rpc_method_handler(head_stall),
            'StreamStall': grpc.unary_stream_rpc_method_handler(stream_stall)})
        server = grpc.server(futures.ThreadPoolExecutor(4))
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port('127.0.0.1:0')
        server.start()
        print(port, flush=True)
        server.wait_for_termination(60)
        """#

        static let client = #"""
        import grpc, sys, time
        ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
        t0 = time.monotonic()
        try:
            ch.unary_unary('/inference.GRPCInferenceService/HeadStall')(b'x', timeout=20)
            raise SystemExit('expected DEADLINE_EXCEEDED')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
        unary = time.monotonic() - t0
        t0 = time.monotonic()
        got = []
        try:
            for m in ch.unary_stream('/inference.GRPCInferenceService/StreamStall')(b'x', timeout=20):
                got.append(m)
            raise SystemExit('expected DEADLINE_EXCEEDED')
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, (e.code(), e.details())
        assert got == [b'first'], got
        stream = time.monotonic() - t0
        print('OK %.2f %.2f' % (unary, stream))
        """#

        @Test(.timeLimit(.minutes(1)))
        func stalledAfterHeadersGetsDeadlineExceededOnTime() throws {
            let server = try PythonServer(script: Self.server)
            defer { server.stop() }
            let grpcPort = try #require(server.port, "the grpc server printed no port")
            let closed = try ClosedPort()
            defer { closed.release() }
            // grpc-v1 has timeouts.request 1s.
            let h = try ProxyHarness(yaml: GRPC.yaml(grpcPort: grpcPort, downPort: closed.port))
            defer { h.stop() }
            let before = h.control.currentSnapshot.global.value(.upstreamTimeouts)
            let r = try Command.run("python3", ["-c", Self.client, "\(h.port)"], timeout: 50)
            #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
            let parts = r.stdout.split(separator: " ")
            #expect(parts.first == "OK", "\(r.stdout)")
            if parts.count == 3, let unary = Double(parts[1].trimmingCharacters(in: .whitespacesAndNewlines)),
               let stream = Double(parts[2].trimmingCharacters(in: .whitespacesAndNewlines)) {
                #expect(unary < 4, "unary call ended after \(unary) s")
                #expect(stream < 4, "streaming call ended after \(stream) s")
            }
            #expect(h.control.currentSnapshot.global.value(.upstreamTimeouts) - before == 2)
        }
    }
}

import Foundation
import SluiceCore
import Testing

extension Integration {
    /// Routing by the model a request names: in its path (KServe, TF Serving REST) or in its
    /// OpenAI-style JSON body, over HTTP/1.1 and HTTP/2, with curl.
    @Suite struct ModelRouting {
        /// Python HTTP backends on two ports answering `{"backend", "length", "sha256", "te"}` for
        /// every request: the body they received (chunked bodies decoded), so a test can check that the
        /// peeked bytes reached the model unchanged.
        static let backends = #"""
        import hashlib, json, sys, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        def make(name):
            class H(BaseHTTPRequestHandler):
                protocol_version = 'HTTP/1.1'
                def log_message(self, *a): pass
                def do_POST(self):
                    te = self.headers.get('Transfer-Encoding', '')
                    if te.lower() == 'chunked':
                        body = b''
                        while True:
                            size = int(self.rfile.readline().split(b';')[0], 16)
                            if size == 0:
                                while self.rfile.readline() not in (b'\r\n', b''): pass
                                break
                            body += self.rfile.read(size); self.rfile.readline()
                    else:
                        body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                    out = json.dumps({'backend': name, 'length': len(body), 'sha256': hashlib.sha256(body).hexdigest(),
                                      'path': self.path, 'te': te.lower()}).encode()
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                do_GET = do_POST
            s = ThreadingHTTPServer(('127.0.0.1', 0), H)
            threading.Thread(target=s.serve_forever, daemon=True).start()
            return s.server_address[1]
        print(' '.join(str(make(n)) for n in ['llama', 'mistral', 'fraud']), flush=True)
        threading.Event().wait(120)
        """#

        static func yaml(_ ports: [UInt16]) -> String {
            """
            workers: 1
            limits: { model_peek: 16KiB, body_idle_timeout: 1s }
            listeners: [{ name: t, address: 127.0.0.1:0 }]
            backends:
              - { name: llama, endpoints: [127.0.0.1:\(ports[0])] }
              - { name: mistral, endpoints: [127.0.0.1:\(ports[1])] }
              - { name: fraud, endpoints: [127.0.0.1:\(ports[2])] }
            routes:
              - { name: llama, match: { model_prefix: llama-3 }, targets: [{ backend: llama, weight: 100 }] }
              - { name: mistral, match: { model: mistral-7b, path_prefix: /v1/ }, targets: [{ backend: mistral, weight: 100 }] }
              - { name: fraud, match: { model: fraud-detector }, targets: [{ backend: fraud, weight: 100 }] }
              - { name: embeddings, match: { path_prefix: /v1/embeddings }, targets: [{ backend: fraud, weight: 100 }] }
              - { name: other, match: { path_prefix: /other }, targets: [{ backend: llama, weight: 100 }] }
            """
        }

        /// Starts the backends and the proxy.
        static func start() throws -> (PythonServer, ProxyHarness) {
            let server = try PythonServer(script: backends)
            guard let line = Optional(server.firstLine), case let ports = line.split(separator: " ").compactMap({ UInt16($0) }), ports.count == 3 else {
                server.stop()
                throw TestError("the backends printed no ports")
            }
            return (server, try ProxyHarness(yaml: yaml(ports)))
        }

        static func sha256(_ data: Data) throws -> String {
            let r = try Command.run("sha256sum", [], input: data)
            return String(r.stdout.prefix(64))
        }

        /// A chat request naming `model` after `padding` bytes of messages (`model` last when padded).
        static func chat(_ model: String, padding: Int = 0) -> Data {
            let filler = String(repeating: "x", count: padding)
            return Data(#"{"messages":[{"role":"user","content":"\#(filler)"}],"stream":false,"model":"\#(model)","max_tokens":8}"#.utf8)
        }

        /// POSTs `body` with curl (extra arguments `args`) and returns what it saw.
        static func post(_ h: ProxyHarness, _ path: String, _ body: Data, _ args: [String] = []) throws -> CurlResult {
            let file = NSTemporaryDirectory() + "model-\(UUID().uuidString).json"
            FileManager.default.createFile(atPath: file, contents: body)
            defer { try? FileManager.default.removeItem(atPath: file) }
            return try Command.curl(args + ["-H", "content-type: application/json", "--data-binary", "@\(file)", "\(h.base)\(path)"])
        }

        /// The request reached `backend` with exactly `body`.
        static func expectForwarded(_ r: CurlResult, to backend: String, _ body: Data, _ what: String) throws {
            #expect(r.status == 200, "\(what): \(r.summary)")
            #expect(r.json?["backend"] as? String == backend, "\(what): \(r.summary)")
            #expect(r.json?["length"] as? Int == body.count, "\(what): \(r.summary)")
            #expect(r.json?["sha256"] as? String == (try sha256(body)), "\(what)")
        }

        @Test(.timeLimit(.minutes(1)), arguments: ["http1", "h2c"])
        func jsonBodiesRoutedByModel(_ proto: String) throws {
            let (server, h) = try Self.start()
            defer { h.stop(); server.stop() }
            let p = proto == "h2c" ? ["--http2-prior-knowledge"] : ["--http1.1"]

            // Small: the whole body in the first read.
            let small = Self.chat("llama-3-8b-instruct")
            try Self.expectForwarded(try Self.post(h, "/v1/chat/completions", small, p), to: "llama", small, "small")
            // Large (300 KB), the model in the first bytes: routed after the peek, the rest streamed.
            let large = Data(#"{"model":"mistral-7b","input":""#.utf8) + Data(repeating: UInt8(ascii: "a"), count: 300_000) + Data(#""}"#.utf8)
            try Self.expectForwarded(try Self.post(h, "/v1/embeddings", large, p), to: "mistral", large, "large")
            // The model after 12 KB of messages: still within 16 KiB.
            let late = Self.chat("mistral-7b", padding: 12_000)
            try Self.expectForwarded(try Self.post(h, "/v1/completions", late, p), to: "mistral", late, "late model")
            // Expect: 100-continue (the client waits for it before sending the body the peek needs).
            try Self.expectForwarded(try Self.post(h, "/v1/chat/completions", small, p + ["-H", "Expect: 100-continue"]), to: "llama", small, "expect")

            // Beyond the peek limit, not JSON, no model: only model routes match → 400 with the reason.
            let beyond = try Self.post(h, "/v1/chat/completions", Self.chat("llama-3", padding: 20_000), p)
            #expect(beyond.status == 400, "\(beyond.summary)")
            #expect(beyond.json?["error"] as? String == "model_not_found")
            #expect((beyond.json?["message"] as? String)?.contains("limits.model_peek") == true, "\(beyond.summary)")
            let notJSON = try Self.post(h, "/v1/chat/completions", Data("model=llama-3".utf8), p)
            #expect(notJSON.status == 400 && (notJSON.json?["message"] as? String)?.contains("not a JSON object") == true, "\(notJSON.summary)")
            let cut = try Self.post(h, "/v1/chat/completions", Data(#"{"messages": [1, 2"#.utf8), p)
            #expect(cut.status == 400, "\(cut.summary)")
            let missing = try Self.post(h, "/v1/chat/completions", Data(#"{"messages":[]}"#.utf8), p)
            #expect(missing.status == 400 && (missing.json?["message"] as? String)?.contains("does not name a model") == true, "\(missing.summary)")
            // No model, but a later route without match.model takes the path: it gets the request.
            let fallback = Data("not json at all".utf8)
            try Self.expectForwarded(try Self.post(h, "/v1/embeddings", fallback, p), to: "fraud", fallback, "fallback route")
            let unnamed = Data(#"{"input":"x"}"#.utf8)
            try Self.expectForwarded(try Self.post(h, "/v1/embeddings", unnamed, p), to: "fraud", unnamed, "fallback, no model")
            // A model no route takes: 404 as for any unrouted request.
            let unknown = try Self.post(h, "/v1/chat/completions", Self.chat("gpt-9"), p)
            #expect(unknown.status == 404, "\(unknown.summary)")

            // Path shapes: KServe v1 / TF Serving REST and KServe v2.
            let predict = Data(#"{"instances":[[1.0, 2.0]]}"#.utf8)
            try Self.expectForwarded(try Self.post(h, "/v1/models/fraud-detector:predict", predict, p), to: "fraud", predict, "tf rest")
            try Self.expectForwarded(try Self.post(h, "/v2/models/fraud-detector/versions/3/infer", predict, p), to: "fraud", predict, "kserve v2")
            let otherPath = try Self.post(h, "/other/x", predict, p)
            #expect(otherPath.json?["backend"] as? String == "llama", "\(otherPath.summary)")

            let routes = h.control.currentSnapshot.targetStats
            let served = (0..<3).map { routes[$0][0].snapshot(nowSecond: MonotonicClock.now() / 1_000_000_000).requests }
            #expect(served == [2, 2, 2], "\(served)")
        }

        /// Chunked HTTP/1.1 bodies: the chunk framing is decoded for the peek, the bytes go on as they came.
        @Test(.timeLimit(.minutes(1)))
        func chunkedBodiesRoutedByModel() throws {
            let (server, h) = try Self.start()
            defer { h.stop(); server.stop() }
            let te = ["--http1.1", "-H", "Transfer-Encoding: chunked"]
            let small = Self.chat("llama-3-70b")
            try Self.expectForwarded(try Self.post(h, "/v1/chat/completions", small, te), to: "llama", small, "chunked small")
            let late = Self.chat("mistral-7b", padding: 14_000)
            try Self.expectForwarded(try Self.post(h, "/v1/chat/completions", late, te), to: "mistral", late, "chunked late")
            let big = Data(#"{"model":"mistral-7b","input":""#.utf8) + Data(repeating: UInt8(ascii: "b"), count: 500_000) + Data(#""}"#.utf8)
            try Self.expectForwarded(try Self.post(h, "/v1/embeddings", big, te), to: "mistral", big, "chunked big")
            let beyond = try Self.post(h, "/v1/chat/completions", Self.chat("llama-3", padding: 30_000), te)
            #expect(beyond.status == 400, "\(beyond.summary)")

            // HTTP/2 without content-length (curl -T - streams stdin): DATA held for the peek, then re-framed
            // as chunked for the HTTP/1.1 backend.
            for body in [small, late, big] {
                let r = try Command.run("curl", ["-s", "-S", "--http2-prior-knowledge", "-H", "content-type: application/json",
                                                 "-X", "POST", "-T", "-", "\(h.base)/v1/chat/completions"], input: body)
                let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [String: Any]
                #expect(json?["length"] as? Int == body.count, "h2 stdin: \(r.stdout.prefix(300)) \(r.stderr)")
                #expect(json?["sha256"] as? String == (try Self.sha256(body)))
                #expect(json?["backend"] as? String == (body == small ? "llama" : "mistral"))
                #expect(json?["te"] as? String == "chunked", "the client sent no content-length")
            }

            // A client that stalls before the model arrives gets 408 after body_idle_timeout, raw.
            let raw = try RawSocket(port: h.port, timeout: 5)
            #expect(raw.send("POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"messa"))
            let stalled = raw.readResponse()
            #expect(stalled?.status == 408, "\(String(describing: stalled))")

            // The same over HTTP/2: the stream whose body stalls before the model is answered 408
            // (counted as a body timeout) after body_idle_timeout, not held until the client leaves.
            let timeouts = { h.control.currentSnapshot.global.value(.bodyTimeouts) }
            let before = timeouts()
            let h2 = try RawSocket(port: h.port, timeout: 5)
            defer { h2.close() }
            let part = Array(#"{"messa"#.utf8)
            let data: [UInt8] = [0, 0, UInt8(part.count), 0, 0, 0, 0, 0, 1] + part      // DATA, stream 1, no END_STREAM
            let started = Date()
            #expect(h2.send(Integration.StreamLifecycle.h2Request(post: true, "/v1/chat/completions", endStream: false) + data))
            #expect(eventually(4) { timeouts() > before }, "no 408 for a stalled HTTP/2 body")
            let after = Date().timeIntervalSince(started)
            #expect(after > 0.8 && after < 3.5, "408 after \(after) s")
        }
    }
}

